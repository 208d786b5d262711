"""Run a whole OpenAI fine-tuning job against the local emulator, with the official SDK.

    python examples/emulator_openai_job.py
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import openai

from tuneport.emulator import ManualClock, running


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "train.jsonl"
        data.write_text("\n".join(json.dumps({"messages": [
            {"role": "user", "content": f"What is {i} + {i}?"},
            {"role": "assistant", "content": str(2 * i)},
        ]}) for i in range(20)) + "\n")
        with running(clock=ManualClock(), job_seconds=60) as emu:
            client = openai.OpenAI(base_url=emu.openai_base_url, api_key=emu.api_key)
            f = client.files.create(file=data, purpose="fine-tune")
            job = client.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18",
                                                 training_file=f.id, suffix="adder")
            for _ in range(6):
                emu.advance(10)
                job = client.fine_tuning.jobs.retrieve(job.id)
                print(f"{job.status:<17} trained_tokens={job.trained_tokens}")
            assert job.fine_tuned_model is not None
            reply = client.chat.completions.create(
                model=job.fine_tuned_model, messages=[{"role": "user", "content": "2 + 2?"}])
            print(job.fine_tuned_model, "->", reply.choices[0].message.content)


if __name__ == "__main__":
    main()
