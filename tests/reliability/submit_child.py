"""One submitting process of the reliability tests (run as a script, not collected).

``submit_child.py PROVIDER MODEL DATA... [--sync DIR] [--kill-at STAGE]``: builds a Client
from the environment (the emulator's URLs, ``TUNEPORT_HOME``) and submits each DATA in
turn, printing ``{"job_id": ...}`` for each.

With ``--sync DIR`` the process says it is ready (``DIR/ready.PID``, imports done), then
for trial ``i`` waits until ``DIR/go.i`` exists, so that several processes start the same
submission at the same instant, and writes its answer to ``DIR/i.PID.json``; when
``go.i`` lists process indexes (``--index``), only those take part in that trial. With
``--kill-at`` it SIGKILLs itself when the submission reports that stage (``on_progress``),
the way a crash or an OOM kill would end it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any


def _write(path: Path, text: str) -> None:
    # The temporary name carries the pid: children write beside each other in one folder,
    # and a shared name let one child rename another's file away.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.rename(path)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("provider")
    parser.add_argument("model")
    parser.add_argument("data", nargs="+")
    parser.add_argument("--sync")
    parser.add_argument("--kill-at")
    parser.add_argument("--index", type=int, default=0)
    args = parser.parse_args()

    import tuneport

    client = tuneport.Client(
        provider=args.provider,
        retry=tuneport.RetryPolicy(attempts=4, initial_backoff=0.02, max_backoff=0.2),
    )
    client.adapter(args.provider)  # the SDK is imported before any start signal

    def progress(stage: str, info: dict[str, Any]) -> None:
        if stage == args.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    sync = Path(args.sync) if args.sync else None
    if sync is not None:
        _write(sync / f"ready.{os.getpid()}", "")
    for trial, data in enumerate(args.data):
        if sync is not None:
            go = sync / f"go.{trial}"
            while not go.exists():
                time.sleep(0.002)
            taking_part = go.read_text(encoding="utf-8").split()
            if taking_part and str(args.index) not in taking_part:
                continue
        try:
            job = client.fine_tune(data, model=args.model, on_progress=progress)
            answer = {"job_id": job.id, "key": job.idempotency_key}
        except tuneport.TuneportError as exc:
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        line = json.dumps(answer)
        if sync is not None:
            _write(sync / f"{trial}.{os.getpid()}.json", line)
        print(line, flush=True)
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
