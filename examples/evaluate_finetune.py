"""Did the fine-tune help, and what did it break? Hold data out, train, evaluate.

Runs offline on a CPU in a minute or two with the tiny test model (no download):

    python examples/evaluate_finetune.py                    # tiny model, synthetic data
    python examples/evaluate_finetune.py --model smollm2-135m-instruct \
        --data examples/data/support_chat.jsonl             # the demo's model and data

It splits the data (10% held out, stratified by length), fine-tunes locally on the rest,
evaluates base vs fine-tuned on the held-out part (plus the small general set, to catch
forgetting), prints the numbers and writes the HTML report. With a hosted job the same
``client.evaluate(job, heldout)`` call compares it with its base model.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import tuneport
from tuneport.evaluate import ProgressPrinter

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="base model (default: the tiny test model)")
    parser.add_argument("--data", type=Path, help="chat JSONL (default: synthetic examples)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--html", type=Path, default=Path("eval-report.html"))
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="tuneport-eval-"))
    if args.model is None:
        from tuneport.testing import tiny_chat_examples, tiny_model

        args.model = str(tiny_model(workdir / "tiny"))
        args.data = workdir / "train.jsonl"
        args.data.write_text("".join(json.dumps(e) + "\n" for e in tiny_chat_examples(200)))
    dataset = tuneport.Dataset.from_jsonl(args.data)

    # 1. Hold examples out before anything trains on them. The ledger remembers them:
    #    a later fine_tune whose data contains one is refused (allow_overlap=True overrides).
    train, heldout = dataset.split(validation=0.1, seed=0)

    client = tuneport.Client(provider="local")
    job = client.wait(client.fine_tune(train, model=args.model, epochs=args.epochs,
                                       learning_rate=1e-2))
    print(f"trained {job.id}: {job.status.value}")

    # 2. Base vs fine-tuned, on the held-out examples and on a general set (forgetting).
    report = client.evaluate(
        job, heldout, baseline="base", metrics=["token_f1", "rouge_l", "chrf"],
        regression=HERE / "data" / "general.jsonl", max_tokens=48,
        on_progress=ProgressPrinter(),
    )
    print(report.summary(regressions_shown=2))
    print(f"HTML report: {report.to_html(args.html)}")

    # 3. The same numbers as data (what `tuneport eval JOB HELDOUT --json` prints).
    rouge = report.to_json()["pairwise"]["rouge_l"]
    print(f"rouge_l: {rouge['wins']} wins, {rouge['ties']} ties, {rouge['losses']} losses, "
          f"p = {rouge['p_value']:.3g}")


if __name__ == "__main__":
    main()
