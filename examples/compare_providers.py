"""Compare what one fine-tune costs on every provider and on rented GPUs, offline.

Run:  python examples/compare_providers.py [data.jsonl] [model]

No API key and no network are needed: token counts are computed locally and prices come from
tuneport's dated catalogs (override them in TUNEPORT_CATALOG_DIR).
"""

from __future__ import annotations

import sys
from pathlib import Path

from tuneport.cost import compare, estimate


def main() -> None:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "data" / (
        "support_chat.jsonl"
    )
    model = sys.argv[2] if len(sys.argv) > 2 else "llama-3.1-8b-instruct"

    result = compare(data, model=model, epochs=3, gpus=["H100", "A100-80GB", "L4", "RTX-4090"])
    print(f"{result.model}: {result.examples} examples, {result.tokens:,} tokens, 3 epochs\n")
    for row in result.rows:
        where = row.provider if row.kind == "hosted" else f"{row.gpus}x {row.gpu} @ {row.cloud}"
        usd = row.training_usd
        print(f"  {where:36} ${usd.expected:>9.4f}  (${usd.low:.4f} - ${usd.high:.4f})  "
              f"prices as of {row.as_of}{'  STALE' if row.stale else ''}")
    for skipped in result.skipped:
        print(f"  left out: {skipped.provider} {skipped.gpu or ''}: {skipped.reason}")

    cheapest = result.cheapest
    if cheapest is not None:
        print(f"\nCheapest: {cheapest.provider} {cheapest.gpu or ''}".rstrip())
        for line in cheapest.lines:
            print(f"  {line.label}: {line.quantity} {line.unit}")
        print("Assumptions:")
        for text in cheapest.assumptions:
            print(f"  - {text}")

    # One provider in detail, with serving billed separately from training.
    est = estimate(data, provider="openai", model="gpt-4o-mini", epochs="auto")
    print(f"\nOpenAI gpt-4o-mini, auto epochs -> {est.epochs}: ${est.training_usd.expected:.4f}")
    if est.serving is not None:
        print(f"  serving: ${est.serving.input_usd_per_1m} in / ${est.serving.output_usd_per_1m} "
              "out per 1M tokens")
    for note in est.notes:
        print(f"  note: {note}")


if __name__ == "__main__":
    main()
