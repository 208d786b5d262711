"""Compare what one fine-tune costs on every provider and on rented GPUs, offline.

Run:  python examples/compare_providers.py [data.jsonl] [model] [chart.png]

No API key and no network are needed: token counts are computed locally and prices come from
tuneport's dated catalogs (override them in TUNEPORT_CATALOG_DIR). The same comparison on the
command line: ``tuneport compare data.jsonl --model llama-3.1-8b-instruct --plot chart.png``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import tuneport
from tuneport.cost import per_million_text, plot_comparison, usd_text


def main() -> None:
    here = Path(__file__).parent
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else here / "data" / "support_chat.jsonl"
    model = sys.argv[2] if len(sys.argv) > 2 else "llama-3.1-8b-instruct"
    chart = Path(sys.argv[3]) if len(sys.argv) > 3 else None

    # A Dataset, a path or a list of records all work; the Dataset is read lazily.
    ds = tuneport.Dataset.from_jsonl(data)
    result = tuneport.compare(ds, model=model, epochs=3,
                              gpus=["H100@runpod-community", "A100-80GB", "L4", "RTX-4090"])
    print(f"{result.model}: {result.examples} examples, {result.tokens:,} tokens, 3 epochs")
    print("Training cost, cheapest first (expected, then low-high):")
    for row in result.rows:
        where = (f"{row.provider} (hosted)" if row.kind == "hosted"
                 else f"{row.gpus}x {row.gpu} @ {row.cloud}")
        usd = row.training_usd
        stale = "  (price over 120 days old)" if row.stale else ""
        minimum = f"  {row.minimum_note}" if row.minimum_note else ""
        print(f"  {where:32} {usd_text(usd.expected):>9}  {usd_text(usd.low)}-"
              f"{usd_text(usd.high)}  as of {row.as_of}{stale}{minimum}")
    for skipped in result.skipped:
        where = f"{skipped.provider} {skipped.gpu}" if skipped.gpu else skipped.provider
        print(f"  left out: {where}: {skipped.reason}")

    cheapest = result.cheapest
    if cheapest is not None:
        name = cheapest.provider if cheapest.gpu is None else f"{cheapest.gpu} @ {cheapest.cloud}"
        print(f"\nWhy {name} costs what it does:")
        for line in cheapest.lines:
            price = ("" if line.unit_price_usd is None
                     else f" x {per_million_text(line.unit_price_usd)}" if line.unit == "tokens"
                     else f" x {usd_text(line.unit_price_usd)} per {line.unit.rstrip('s')}")
            print(f"  {line.label}: {line.quantity:,} {line.unit}{price}")
        for text in cheapest.assumptions:
            print(f"  assumes {text}")

    # One provider in detail through a client: serving is billed separately from training.
    client = tuneport.Client(provider="openai")
    est = client.estimate(ds, model="gpt-4o-mini", epochs="auto")
    print(f"\nOpenAI gpt-4o-mini, auto epochs -> {est.epochs}: "
          f"{usd_text(est.training_usd.expected)}")
    if est.serving is not None:
        print(f"  serving: {per_million_text(est.serving.input_usd_per_1m or 0)} in, "
              f"{per_million_text(est.serving.output_usd_per_1m or 0)} out")
    for note in est.notes:
        print(f"  note: {note}")

    if chart is not None:
        print(f"\nChart written to {plot_comparison(result, chart)}")


if __name__ == "__main__":
    main()
