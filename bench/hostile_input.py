"""Hostile input: validation's memory on huge lines and its speed on runs of blank lines.

Each measurement runs in its own process so its peak memory (max RSS) is its own. Prints
one JSON object.

    python bench/hostile_input.py                 # lines of 8, 16 and 30 MiB, a 1 GiB line
    python bench/hostile_input.py --quick         # 8 MiB and a 256 MiB line (CI-sized)

Memory: ``extra_mib`` is the peak RSS of validating the file minus the peak RSS of the
same process importing tuneport and validating a one-line file; ``ratio`` is ``extra``
over the longest line. The promise (docs/reliability.md) is ratio < 4 for a line tuneport
reads; a line over the 32 MiB cap is skipped unread, so its cost is a constant.
Speed: 16 MiB of blank lines, validation time beside the time to read the same file in
1 MiB blocks (``baseline``) in the same run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GOOD = (b'{"messages": [{"role": "user", "content": "Hi"}, '
        b'{"role": "assistant", "content": "Hello!"}]}\n')
MIB = 1 << 20

_CHILD = r"""
import json, resource, sys, time
from tuneport.dataset import Dataset
path, targets, warm = sys.argv[1], tuple(sys.argv[2].split(",")), sys.argv[3]
Dataset.from_jsonl(warm).validate(targets)  # imports, tokenizers, caches: the constant
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
report = Dataset.from_jsonl(path).validate(targets)
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"base_kib": base, "peak_kib": peak, "seconds": seconds,
                  "codes": sorted(report.issue_counts)}))
"""


def _child(path: Path, targets: str, warm: Path) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(path), targets, str(warm)],
                         capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _long_line_file(folder: Path, size: int) -> Path:
    """A .jsonl.gz whose second line is a chat example with ``size`` bytes of content."""
    path = folder / f"line-{size // MIB}mib.jsonl.gz"
    with gzip.open(path, "wb", compresslevel=1) as fh:
        fh.write(GOOD)
        fh.write(b'{"messages": [{"role": "user", "content": "Hi"}, '
                 b'{"role": "assistant", "content": "')
        chunk = b"word " * (MIB // 5)
        written = 0
        while written < size:
            fh.write(chunk[: size - written])
            written += min(len(chunk), size - written)
        fh.write(b'"}]}\n')
        fh.write(GOOD)
    return path


def memory(folder: Path, sizes: list[int], targets: str) -> list[dict[str, Any]]:
    warm = folder / "warm.jsonl"
    warm.write_bytes(GOOD)
    rows = []
    for size in sizes:
        path = _long_line_file(folder, size)
        r = _child(path, targets, warm)
        extra = max(0, r["peak_kib"] - r["base_kib"]) * 1024
        rows.append({"line_mib": size / MIB, "gz_kib": round(path.stat().st_size / 1024, 1),
                     "targets": targets, "extra_mib": round(extra / MIB, 1),
                     "ratio": round(extra / size, 3), "seconds": round(r["seconds"], 2),
                     "codes": r["codes"]})
        path.unlink()
    return rows


def blank_lines(folder: Path, size: int, targets: str) -> dict[str, Any]:
    path = folder / "blank.jsonl"
    path.write_bytes(b"\n" * size)
    warm = folder / "warm.jsonl"
    warm.write_bytes(GOOD)
    t0 = time.perf_counter()
    with path.open("rb") as fh:
        newlines = 0
        while block := fh.read(MIB):
            newlines += block.count(b"\n")
    baseline = time.perf_counter() - t0
    r = _child(path, targets, warm)
    return {"blank_lines": newlines, "mib": size / MIB, "validate_s": round(r["seconds"], 3),
            "baseline_read_s": round(baseline, 4),
            "ratio": round(r["seconds"] / max(baseline, 1e-6), 1), "codes": r["codes"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (CI)")
    parser.add_argument("--targets", default="openai,together,fireworks,local")
    args = parser.parse_args()
    sizes = [8 * MIB, 256 * MIB] if args.quick else [8 * MIB, 16 * MIB, 30 * MIB, 1024 * MIB]
    with tempfile.TemporaryDirectory(prefix="tuneport-bench-") as tmp:
        folder = Path(tmp)
        result = {
            "memory": memory(folder, sizes, args.targets),
            "blank_lines": blank_lines(folder, 16 * MIB, args.targets),
        }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
