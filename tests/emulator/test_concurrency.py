"""Many official SDK clients at once, from many threads, against one emulator."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

openai = pytest.importorskip("openai")
together = pytest.importorskip("together")
fireworks = pytest.importorskip("fireworks")

from tuneport.emulator import Emulator  # noqa: E402

from . import test_fireworks_contract as fw  # noqa: E402
from . import test_openai_contract as oa  # noqa: E402
from . import test_together_contract as tg  # noqa: E402
from .conftest import JOB_SECONDS  # noqa: E402

THREADS = 8


def test_parallel_upload_parts_are_all_kept(emu: Emulator, train_file: Path) -> None:
    # The Uploads API is meant for parts sent in parallel; none may be lost.
    # Parts big enough to arrive in several reads, so the requests really interleave.
    line = train_file.read_bytes().splitlines(keepends=True)[0]
    data = line * (4 * 1024 * 1024 // len(line))
    size = -(-len(data) // THREADS)
    chunks = [data[i:i + size] for i in range(0, len(data), size)]
    c = oa.client(emu)
    up = c.uploads.create(bytes=len(data), filename="big.jsonl", mime_type="text/jsonl",
                          purpose="fine-tune")
    with ThreadPoolExecutor(THREADS) as pool:
        parts = list(pool.map(lambda chunk: oa.client(emu).uploads.parts.create(
            up.id, data=chunk).id, chunks))
    done = c.uploads.complete(up.id, part_ids=parts)
    assert done.file is not None
    assert c.files.content(done.file.id).content == data


def test_three_sdks_at_once(emu: Emulator, train_file: Path) -> None:
    fw.ready_dataset(emu, fw.client(emu), train_file)

    def openai_job(i: int) -> str:
        c = oa.client(emu)
        f = c.files.create(file=train_file, purpose="fine-tune")
        return str(c.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18",
                                             training_file=f.id, suffix=f"t{i}").id)

    def together_job(i: int) -> str:
        c = tg.client(emu)
        f = c.files.upload(train_file, purpose="fine-tune", check=False)
        # Validation takes 1 s on the manual clock, which this thread does not move.
        while c.files.retrieve(f.id).processing_status != "COMPLETED":
            emu.advance(0.25)
        return str(c.fine_tuning.create(training_file=f.id, model=tg.MODEL, suffix=f"t{i}").id)

    def fireworks_job(i: int) -> str:
        job = fw.client(emu).supervised_fine_tuning_jobs.create(
            dataset=f"accounts/{fw.ACCOUNT}/datasets/ds1", base_model=fw.BASE,
            extra_query={"supervisedFineTuningJobId": f"job-{i}"})
        return str(job.name)

    work: list[tuple[str, Any, int]] = [(name, fn, i) for i in range(THREADS // 2)
                                        for name, fn in (("openai", openai_job),
                                                         ("together", together_job),
                                                         ("fireworks", fireworks_job))]
    with ThreadPoolExecutor(THREADS) as pool:
        futures = [(name, pool.submit(fn, i)) for name, fn, i in work]
        ids = {name: [f.result() for n, f in futures if n == name]
               for name in ("openai", "together", "fireworks")}
    for name, got in ids.items():
        assert len(set(got)) == THREADS // 2, (name, got)  # unique ids, none lost
    assert len(oa.client(emu).fine_tuning.jobs.list(limit=100).data) == THREADS // 2
    assert len(tg.client(emu).fine_tuning.list().data) == THREADS // 2
    assert len(list(fw.client(emu).supervised_fine_tuning_jobs.list())) == THREADS // 2
    emu.advance(JOB_SECONDS * 2)
    assert {j.status for j in oa.client(emu).fine_tuning.jobs.list(limit=100).data} == \
        {"succeeded"}


def test_racing_creates_with_one_client_id_make_one_job(emu: Emulator, train_file: Path) -> None:
    dataset = fw.ready_dataset(emu, fw.client(emu), train_file)

    def create(_: int) -> str:
        try:
            fw.client(emu).supervised_fine_tuning_jobs.create(
                dataset=dataset, base_model=fw.BASE,
                extra_query={"supervisedFineTuningJobId": "only-one"})
        except fireworks.ConflictError:
            return "409"
        return "created"

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = sorted(pool.map(create, range(THREADS)))
    assert outcomes == ["409"] * (THREADS - 1) + ["created"]
