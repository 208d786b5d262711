"""Submit fine-tuning jobs through a flaky network and count what the provider got.

The emulator fails 30% of all requests (429s, 500s, 503s, late answers, creates whose
answer is cut after the job was made); tuneport retries each request, looks for the job
before every create, and a call that still fails is simply made again. The provider's own
records then show one job per submission: nothing doubled, nothing lost.

    python examples/reliability_faults.py [SUBMISSIONS_PER_PROVIDER]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

import tuneport
from tuneport.emulator import running

MODELS = {"openai": "gpt-4o-mini", "together": "llama-3.1-8b-instruct",
          "fireworks": "llama-3.1-8b-instruct"}


def dataset(folder: Path, tag: str) -> Path:
    path = folder / f"{tag}.jsonl"
    path.write_text("".join(json.dumps({"messages": [
        {"role": "user", "content": f"Reset password {i} for {tag}?"},
        {"role": "assistant", "content": f"Settings, reset, step {i}."},
    ]}) + "\n" for i in range(12)))
    return path


def main(per_provider: int = 5) -> dict[str, int]:
    warnings.simplefilter("ignore", tuneport.ProviderAvailabilityWarning)
    returned: dict[str, list[str]] = {p: [] for p in MODELS}
    failed_calls = 0
    with tempfile.TemporaryDirectory() as tmp, running(
        fault_rate=0.3, seed=7, job_seconds=3600, file_seconds=0.0, retry_after=0.02,
        timeout_seconds=2.0,
    ) as emu:
        os.environ.update(emu.env())
        os.environ["TUNEPORT_HOME"] = str(Path(tmp) / "home")
        policy = tuneport.RetryPolicy(attempts=4, initial_backoff=0.05, max_backoff=0.5)
        for provider, model in MODELS.items():
            with tuneport.Client(provider=provider, timeout=1.0, retry=policy) as client:
                for i in range(per_provider):
                    data = dataset(Path(tmp), f"{provider}-{i}")
                    for _ in range(3):  # the same call again after a failure: no harm done
                        try:
                            job = client.fine_tune(data, model=model)
                        except tuneport.TuneportError as exc:
                            failed_calls += 1
                            print(f"  {provider}: {type(exc).__name__}, calling again")
                            continue
                        returned[provider].append(job.id)
                        break
        at_provider = {p: len(emu.state.store.list(p, "job")) for p in MODELS}
        faults = sum(1 for e in emu.exchanges if e.status in (429, 500, 503))
    figures = {
        "submissions": per_provider * len(MODELS),
        "jobs_at_the_providers": sum(at_provider.values()),
        "lost": sum(per_provider - len(ids) for ids in returned.values()),
        "failed_calls_made_again": failed_calls,
        "error_answers_injected": faults,
    }
    for provider in MODELS:
        print(f"{provider:9} {len(returned[provider])} job ids returned, "
              f"{at_provider[provider]} jobs at the provider")
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
