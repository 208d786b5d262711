"""Entry point of the trainer process: ``python -m tuneport.local train RUN_DIR``.

Started by :class:`~tuneport.providers.local.LocalProvider` (directly, or under
``torchrun`` for ``devices > 1``); not meant to be run by hand, though it can be to debug
a run (``--resume`` continues from the last checkpoint).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run the trainer."""
    parser = argparse.ArgumentParser(prog="python -m tuneport.local")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train the run in RUN_DIR")
    train.add_argument("run_dir", type=Path)
    train.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    args = parser.parse_args(argv)
    from tuneport.local.trainer import run_training

    return run_training(args.run_dir, resume=args.resume)


if __name__ == "__main__":
    sys.exit(main())
