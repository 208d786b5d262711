"""Helpers of the hosted-adapter tests (imported by the test modules)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from tuneport._models import FineTuneSpec, RenderedDataset
from tuneport.providers.base import Provider

#: A base model each emulated provider can train.
MODELS = {
    "openai": "gpt-4o-mini-2024-07-18",
    "together": "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
    "fireworks": "accounts/fireworks/models/llama-v3p1-8b-instruct",
}
JOB_SECONDS = 60.0


def make_provider(name: str, emu: Any, **kwargs: Any) -> Provider:
    """An adapter pointed at the emulator."""
    key = kwargs.pop("api_key", emu.api_key)
    if name == "openai":
        from tuneport.providers.openai import OpenAIProvider

        return OpenAIProvider(api_key=key, base_url=emu.openai_base_url, **kwargs)
    if name == "together":
        from tuneport.providers.together import TogetherProvider

        return TogetherProvider(api_key=key, base_url=emu.together_base_url,
                                project_id="proj-test", file_poll_interval=0.0, **kwargs)
    from tuneport.providers.fireworks import FireworksProvider

    return FireworksProvider(api_key=key, base_url=emu.fireworks_base_url,
                             account_id="acct-test", dataset_poll_interval=0.0, **kwargs)


def write_dataset(folder: Path, provider: str, n: int = 12, tag: str = "") -> RenderedDataset:
    """A small chat dataset, rendered as every provider accepts it."""
    path = folder / f"train-{provider}{tag}.jsonl"
    lines = []
    for i in range(n):
        lines.append(json.dumps({"messages": [
            {"role": "system", "content": "You answer briefly."},
            {"role": "user", "content": f"What is {i} plus {i}?{tag}"},
            {"role": "assistant", "content": f"{2 * i}."},
        ]}))
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(data)
    return RenderedDataset(
        provider=provider, path=path, fingerprint=hashlib.sha256(data).hexdigest(),
        n_examples=n, n_bytes=len(data), format="chat",
    )


def spec_for(provider: str, **kwargs: Any) -> FineTuneSpec:
    return FineTuneSpec(model=MODELS[provider], **kwargs)



