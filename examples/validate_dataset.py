"""Validate a dataset for every target, count its tokens, and render it for one provider.

Run from the repository root:

    python examples/validate_dataset.py [examples/data/chat_small.jsonl]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tuneport._exceptions import ValidationFailedError
from tuneport.dataset import Dataset, count_tokens


def main(path: str) -> int:
    ds = Dataset.from_jsonl(path)
    report = ds.validate()  # openai, together, fireworks, local
    print(f"{path}: {report.examples} {report.format} examples, fingerprint {ds.fingerprint[:12]}")
    for target, stats in report.tokens.items():
        kind = "exact" if stats.exact else f"estimate {stats.total_low}-{stats.total_high}"
        status = "ok" if report.ok_for(target) else f"{len(report.errors_for(target))}+ errors"
        print(f"  {target:9} {stats.tokenizer:22} {stats.total:>8} tokens ({kind}); "
              f"billed ~{stats.billed_estimate.tokens} over {stats.billed_estimate.epochs} "
              f"epoch(s); {status}")
    for issue in report.issues[:10]:
        print(f"  line {issue.line}: {issue.severity} {issue.code}: {issue.message}")

    # Exact per-example counts for one model, as OpenAI would count them.
    openai = count_tokens(ds, "openai", model="gpt-4o-mini")
    print(f"  longest example for gpt-4o-mini: {openai.max} tokens "
          f"(first five: {list(openai.per_example or [])[:5]})")

    with tempfile.TemporaryDirectory() as tmp:
        try:
            rendered = ds.render("together", Path(tmp), validation_fraction=0.2)
        except ValidationFailedError as exc:
            print(f"  not rendered for together: {exc}")
            return 1
        print(f"  rendered {rendered.n_examples} examples for together "
              f"({rendered.n_bytes} bytes, sha256 {rendered.fingerprint[:12]})")
    return 0 if report.ok else 1


if __name__ == "__main__":
    default = Path(__file__).parent / "data" / "chat_small.jsonl"
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else str(default)))
