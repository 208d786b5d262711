"""Guarantee 1: exactly one job per key across processes sharing a home and across homes.

N processes (2, 4, 8) with one ``TUNEPORT_HOME`` start the same submission at the same
instant (each waits for a start file after its imports); every trial must leave exactly one
job at the (emulated) provider and every process must answer with its id. Then two homes
("two machines", or a deleted ledger) submitting the same thing one after the other.

``TUNEPORT_RELIABILITY_TRIALS`` sets the trials per provider and process count (CI: 2;
the full run: 10). The processes are started once per (provider, count) and run every
trial, so a trial costs a submission, not a Python start.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("openai")
pytest.importorskip("together")
pytest.importorskip("fireworks")

from _harness import (
    PROVIDERS,
    TRIALS,
    emulator,
    finish,
    remote_jobs,
    start_child,
    wait_for,
    write_dataset,
)


@pytest.mark.parametrize("processes", [2, 4, 8])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_processes_sharing_a_home_make_one_job_per_trial(
    provider: str, processes: int, tmp_path: Path
) -> None:
    home, sync = tmp_path / "home", tmp_path / "sync"
    sync.mkdir()
    datasets = [write_dataset(tmp_path, f"{provider}-{processes}-{t}") for t in range(TRIALS)]
    with emulator() as emu:
        children = [start_child(emu, provider, datasets, home, sync=sync)
                    for _ in range(processes)]
        try:
            wait_for(lambda: len(list(sync.glob("ready.*"))) == processes, 120.0,
                     "the processes to start", children)
            for trial in range(TRIALS):
                before = len(remote_jobs(emu, provider))
                started = time.monotonic()
                (sync / f"go.{trial}").touch()
                wait_for(lambda t=trial: len(list(sync.glob(f"{t}.*.json"))) == processes,
                         60.0, f"trial {trial}'s answers", children)
                answers = [json.loads(p.read_text()) for p in sync.glob(f"{trial}.*.json")]
                made = len(remote_jobs(emu, provider)) - before
                assert [a for a in answers if "error" in a] == []
                ids = {a["job_id"] for a in answers}
                assert made == 1, f"trial {trial}: {made} jobs for one key ({ids})"
                assert len(ids) == 1, f"trial {trial}: processes answered {ids}"
                assert time.monotonic() - started < 60.0
        except BaseException:
            for child in children:
                child.kill()
            raise
        finally:
            results = [finish(child) for child in children]
    assert [code for code, _, _ in results] == [0] * processes, [e for _, _, e in results]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_two_homes_make_one_job(provider: str, tmp_path: Path) -> None:
    """A second machine (another home), and a home whose ledger was deleted, adopt the
    job the first one made instead of making another."""
    data = write_dataset(tmp_path, f"homes-{provider}")
    with emulator() as emu:
        answers = []
        for home in ("machine-a", "machine-b"):
            code, out, err = finish(start_child(emu, provider, [data], tmp_path / home))
            assert code == 0, err
            answers.append(json.loads(out.splitlines()[-1]))
        (tmp_path / "machine-a" / "ledger.sqlite3").unlink()
        code, out, err = finish(start_child(emu, provider, [data], tmp_path / "machine-a"))
        assert code == 0, err
        answers.append(json.loads(out.splitlines()[-1]))
        assert len(remote_jobs(emu, provider)) == 1
    assert len({a["job_id"] for a in answers}) == 1, answers
