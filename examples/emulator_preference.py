"""Preference tuning (DPO): one preference file, the same fine_tune call on every backend.

Runs OpenAI, Together and Fireworks against the local emulator (official SDKs, no network),
then, when the ``local`` extra is installed, a real DPO run on a tiny model built offline:

    python examples/emulator_preference.py

For real providers drop the emulator and set OPENAI_API_KEY / TOGETHER_API_KEY /
FIREWORKS_API_KEY (+ FIREWORKS_ACCOUNT_ID); see docs/preference.md.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import tuneport
from tuneport.emulator import ManualClock, running

DATA = Path(__file__).parent / "data" / "preference.jsonl"
MODELS = {"openai": "gpt-4o-mini", "together": "llama-3.1-8b-instruct",
          "fireworks": "llama-3.1-8b-instruct"}


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set environment variables for the block, then put the old ones back."""
    old = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def hosted(home: Path) -> None:
    """The same DPO call on the three hosted providers, against the emulator."""
    with running(clock=ManualClock(), job_seconds=60, file_seconds=0.0,
                 deploy_seconds=0.0) as emu, environment(**emu.env(), TUNEPORT_HOME=str(home)):
        ds = tuneport.Dataset.from_jsonl(DATA)
        for provider, model in MODELS.items():
            with tuneport.Client(provider=provider) as client, warnings.catch_warnings():
                # OpenAI's self-serve fine-tuning wind-down warning; known, printed elsewhere.
                warnings.simplefilter("ignore", tuneport.ProviderAvailabilityWarning)
                client._sleep = lambda seconds: emu.advance(max(seconds, 1.0))
                job = client.fine_tune(ds, model=model, method="dpo-lora", beta=0.1, epochs=1)
                job = client.wait(job, poll=10)
                print(f"{provider:<9} {job.id} {job.status.value} -> {job.fine_tuned_model}")
                if provider == "openai":
                    endpoint = client.endpoint(job)
                    print("  ", endpoint.chat([{"role": "user", "content": "Reset password?"}]))


def local(home: Path) -> None:
    """A real DPO run on a tiny model: preference accuracy rises step by step."""
    from tuneport.testing import tiny_model

    model = tiny_model(home / "tiny-model")
    with environment(TUNEPORT_HOME=str(home)), tuneport.Client(provider="local") as client:
        job = client.fine_tune(DATA, model=str(model), method="dpo-lora", beta=0.1, epochs=1,
                               learning_rate=5e-3, batch_size=8, threads=1,
                               validation_split=0.0, wait=True)
        print(f"local     {job.id} {job.status.value} -> {job.fine_tuned_model}")
        for point in client.metrics(job):
            print(f"  step {point.step:>2} loss {point.train_loss:.4f} "
                  f"margin {point.reward_margin:+.4f} accuracy {point.preference_accuracy:.2f}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        hosted(Path(tmp) / "hosted")
        if importlib.util.find_spec("torch") and importlib.util.find_spec("peft"):
            local(Path(tmp) / "local")
        else:
            print("local: skipped (pip install 'tuneport[local]' to train on this machine)")


if __name__ == "__main__":
    main()
