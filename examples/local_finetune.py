"""Fine-tune locally with LoRA, follow the job, and call the result (runs offline on CPU).

    python examples/local_finetune.py                 # tiny model built on the fly (seconds)
    python examples/local_finetune.py smollm2-135m-instruct   # the real small model (minutes)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import tuneport
from tuneport.testing import tiny_chat_examples, tiny_model


def main() -> None:
    """Train, wait, and ask the fine-tuned model a question."""
    here = Path(__file__).parent
    if len(sys.argv) > 1:
        model = sys.argv[1]
        data: object = tuneport.Dataset.from_jsonl(here / "data" / "support_chat.jsonl")
        question = "How do I export my notes to PDF?"
    else:
        model = str(tiny_model(Path(tempfile.mkdtemp()) / "tiny"))
        data = tiny_chat_examples(200)
        question = "Say hello to the owl."

    client = tuneport.Client(provider="local")
    job = client.fine_tune(data, model=model, method="lora", epochs=2, learning_rate=1e-2
                           if len(sys.argv) == 1 else 1e-3, batch_size=8)
    print("started", job.id)
    job = client.wait(job, poll=1.0, on_update=lambda j: print(
        f"  {j.status}: {100 * (j.progress or 0):.0f}%"))
    for event in client.events(job)[-3:]:
        print("  event:", event.message)

    endpoint = client.endpoint(job)
    print("adapter:", endpoint.adapter_path)
    print("serve it with: tuneport serve", job.id, "--port 8765")
    reply = endpoint.chat([{"role": "user", "content": question}])  # in-process, no server
    print(question, "->", reply)


if __name__ == "__main__":
    main()
