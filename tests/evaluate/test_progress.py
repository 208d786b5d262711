"""Progress while evaluating: the estimate first, then (stderr not a terminal) a plain line
at least every interval, then the totals."""

from __future__ import annotations

import io
import time

from tuneport.evaluate import ProgressPrinter


def test_plain_lines_while_running_when_not_a_terminal() -> None:
    out = io.StringIO()
    printer = ProgressPrinter(out, interval=0.05)
    assert printer.bar is False  # a StringIO is not a terminal
    printer("estimate", {"requests": 4, "cached": 2, "tokens": 120, "usd": 0.0012,
                         "notes": ["the judge's requests come on top"]})
    printer("progress", {"done": 3, "total": 6, "cached": 2, "failed": 0, "requests": 1})
    time.sleep(0.3)  # nothing arrives for a while: lines keep coming anyway
    printer("progress", {"done": 6, "total": 6, "cached": 2, "failed": 1, "requests": 4})
    printer("done", {"failed": 1, "requests": 4, "cached": 2})
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("Evaluation: 4 requests to send (2 answered from the cache)")
    assert "$0.0012" in lines[0]
    assert "note: the judge" in lines[1]
    ticks = [line for line in lines if line.strip().startswith("3/6 answers")]
    assert len(ticks) >= 2
    assert any(line.strip().startswith("6/6 answers (2 cached, 1 failed)") for line in lines)
    assert lines[-1].startswith("Evaluation done in")
    assert "4 requests, 2 cached, 1 failed" in lines[-1]
