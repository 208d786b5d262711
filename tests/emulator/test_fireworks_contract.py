"""The official ``fireworks-ai`` SDK, unchanged, against the emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

fireworks = pytest.importorskip("fireworks")

from tuneport.emulator import Emulator  # noqa: E402

from .conftest import JOB_SECONDS  # noqa: E402

ACCOUNT = "acct1"
BASE = "accounts/fireworks/models/llama-v3p1-8b-instruct"


def client(emu: Emulator, **kwargs: object) -> fireworks.Fireworks:
    options: dict[str, object] = {"max_retries": 0, "account_id": ACCOUNT}
    options.update(kwargs)
    return fireworks.Fireworks(base_url=emu.fireworks_base_url, api_key=emu.api_key, **options)


def ready_dataset(emu: Emulator, c: fireworks.Fireworks, path: Path, did: str = "ds1") -> str:
    c.datasets.create(dataset_id=did, dataset={"userUploaded": {}, "exampleCount": "12"})
    c.datasets.upload(did, file=path)
    assert c.datasets.get(did).state == "UPLOADING"
    emu.advance(1.0)
    assert c.datasets.get(did).state == "READY"
    return f"accounts/{ACCOUNT}/datasets/{did}"


def test_whole_life_cycle(emu: Emulator, train_file: Path) -> None:
    c = client(emu)
    dataset = ready_dataset(emu, c, train_file)
    job = c.supervised_fine_tuning_jobs.create(
        dataset=dataset, base_model=BASE, epochs=2, lora_rank=8, output_model="support-bot",
        extra_query={"supervisedFineTuningJobId": "job-one"})
    assert job.name == f"accounts/{ACCOUNT}/supervisedFineTuningJobs/job-one"
    assert job.state == "JOB_STATE_CREATING"
    assert job.estimated_cost is not None
    assert float(job.estimated_cost.units or 0) >= 0
    seen = [job.state]
    percents = []
    for _ in range(20):
        emu.advance(JOB_SECONDS / 20)
        job = c.supervised_fine_tuning_jobs.get("job-one")
        percents.append(job.job_progress.percent if job.job_progress else 0)
        if job.state != seen[-1]:
            seen.append(job.state)
    assert seen == ["JOB_STATE_CREATING", "JOB_STATE_PENDING", "JOB_STATE_RUNNING",
                    "JOB_STATE_WRITING_RESULTS", "JOB_STATE_COMPLETED"]
    assert percents == sorted(percents)
    assert percents[-1] == 100
    assert job.output_model == f"accounts/{ACCOUNT}/models/support-bot"

    model = job.output_model
    with pytest.raises(fireworks.NotFoundError):
        c.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    dep = c.deployments.create(base_model=model, min_replica_count=1, max_replica_count=1,
                               extra_query={"deploymentId": "support-dep"})
    assert dep.state == "CREATING"
    emu.advance(5)
    assert c.deployments.get("support-dep").state == "READY"
    reply = c.chat.completions.create(model=model,
                                      messages=[{"role": "user", "content": "hello"}])
    assert "hello" in (reply.choices[0].message.content or "")

    # Multi-LoRA: an addon loaded onto a base deployment.
    c.deployments.create(base_model=BASE, enable_addons=True,
                         extra_query={"deploymentId": "base-dep"})
    # The docs: load the LoRA "once the deployment is ready"; before, the load is refused.
    with pytest.raises(fireworks.BadRequestError, match="not READY"):
        c.lora.load(model=model, deployment=f"accounts/{ACCOUNT}/deployments/base-dep")
    emu.advance(5)
    loaded = c.lora.load(model=model, deployment=f"accounts/{ACCOUNT}/deployments/base-dep")
    addressed = f"{model}#accounts/{ACCOUNT}/deployments/base-dep"
    assert c.chat.completions.create(
        model=addressed, messages=[{"role": "user", "content": "x"}]).choices
    deployed_id = str(loaded.name).rsplit("/", 1)[-1]
    assert c.lora.get(deployed_id).state == "DEPLOYED"
    assert [d.name for d in c.lora.list()] == [loaded.name]
    assert sorted(str(d.name).rsplit("/", 1)[-1] for d in c.deployments.list()) == [
        "base-dep", "support-dep"]
    c.lora.unload(deployed_id)
    with pytest.raises(fireworks.NotFoundError):
        c.chat.completions.create(model=addressed, messages=[{"role": "user", "content": "x"}])
    c.deployments.delete("support-dep")
    # A soft delete: the deployment stops and reads DELETED, listed only with show_deleted,
    # its id still taken, until it is undeleted (or deleted hard).
    assert c.deployments.get("support-dep").state == "DELETED"
    assert "support-dep" not in [str(d.name).rsplit("/", 1)[-1] for d in c.deployments.list()]
    assert "support-dep" in [str(d.name).rsplit("/", 1)[-1]
                             for d in c.deployments.list(show_deleted=True)]
    with pytest.raises(fireworks.ConflictError):
        c.deployments.create(base_model=model, extra_query={"deploymentId": "support-dep"})
    with pytest.raises(fireworks.NotFoundError):
        c.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])
    assert c.deployments.undelete("support-dep", body={}).state == "CREATING"
    emu.advance(5)
    assert c.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "x"}]).choices
    c.deployments.delete("support-dep", hard=True)
    with pytest.raises(fireworks.NotFoundError):
        c.deployments.get("support-dep")
    with pytest.raises(fireworks.NotFoundError):
        c.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])


def test_duplicate_job_id_is_a_conflict(emu: Emulator, train_file: Path) -> None:
    c = client(emu)
    dataset = ready_dataset(emu, c, train_file)
    ids = {"supervisedFineTuningJobId": "job-dup"}
    c.supervised_fine_tuning_jobs.create(dataset=dataset, base_model=BASE, extra_query=ids)
    with pytest.raises(fireworks.ConflictError):
        c.supervised_fine_tuning_jobs.create(dataset=dataset, base_model=BASE, extra_query=ids)
    with pytest.raises(fireworks.ConflictError):
        c.datasets.create(dataset_id="ds1", dataset={"userUploaded": {}})


def test_list_pages_and_cancel(emu: Emulator, train_file: Path) -> None:
    c = client(emu)
    dataset = ready_dataset(emu, c, train_file)
    for i in range(5):
        c.supervised_fine_tuning_jobs.create(
            dataset=dataset, base_model=BASE,
            extra_query={"supervisedFineTuningJobId": f"job-{i}"})
    first = c.supervised_fine_tuning_jobs.list(page_size=2)
    names = [j.name for j in first.supervised_fine_tuning_jobs or []]
    assert len(names) == 2
    assert first.next_page_token
    everything = [j.name for j in c.supervised_fine_tuning_jobs.list(page_size=2)]
    assert len(everything) == 5
    assert everything[:2] == names
    emu.advance(JOB_SECONDS * 0.3)
    c.supervised_fine_tuning_jobs.cancel("job-0", body={})
    assert c.supervised_fine_tuning_jobs.get("job-0").state == "JOB_STATE_CANCELLING"
    emu.advance(JOB_SECONDS)
    assert c.supervised_fine_tuning_jobs.get("job-0").state == "JOB_STATE_CANCELLED"
    c.supervised_fine_tuning_jobs.delete("job-1")
    with pytest.raises(fireworks.NotFoundError):
        c.supervised_fine_tuning_jobs.get("job-1")


def test_estimate_cost_through_raw_post(emu: Emulator, train_file: Path) -> None:
    import httpx

    c = client(emu)
    dataset = ready_dataset(emu, c, train_file)
    body = {"dataset": dataset, "baseModel": BASE, "epochs": 3}
    answer = c.post(f"/v1/accounts/{ACCOUNT}/supervisedFineTuningJobs:estimateCost",
                    body=body, cast_to=httpx.Response)
    cost = answer.json()["estimatedCost"]
    assert cost["currencyCode"] == "USD"
    assert int(cost["units"]) * 10**9 + cost["nanos"] > 0


def test_signed_url_upload(emu: Emulator, train_file: Path) -> None:
    import httpx

    c = client(emu)
    c.datasets.create(dataset_id="big", dataset={"userUploaded": {}, "exampleCount": "12"})
    size = train_file.stat().st_size
    urls = c.datasets.get_upload_endpoint(
        "big", filename_to_size={"train.jsonl": str(size)}).filename_to_signed_urls or {}
    put = httpx.put(urls["train.jsonl"], content=train_file.read_bytes(),
                    headers={"Content-Type": "application/octet-stream",
                             "x-goog-content-length-range": f"{size},{size}"})
    assert put.status_code == 200
    c.datasets.validate_upload("big", body={})
    emu.advance(1.0)
    ds = c.datasets.get("big")
    assert ds.state == "READY"
    assert ds.example_count == "12"


def test_malformed_dataset(emu: Emulator, bad_file: Path) -> None:
    c = client(emu)
    dataset = ready_dataset(emu, c, bad_file, did="bad")
    ds = c.datasets.get("bad")
    assert ds.status is not None
    assert ds.status.code == "INVALID_ARGUMENT"
    assert "Line 3" in (ds.status.message or "")
    with pytest.raises(fireworks.BadRequestError):
        c.supervised_fine_tuning_jobs.create(dataset=dataset, base_model=BASE)


def test_random_failure(train_file: Path) -> None:
    from tuneport.emulator import ManualClock, running

    with running(clock=ManualClock(), job_seconds=10, fail_rate=1.0) as emu:
        c = client(emu)
        dataset = ready_dataset(emu, c, train_file)
        job = c.supervised_fine_tuning_jobs.create(dataset=dataset, base_model=BASE)
        emu.advance(10)
        job = c.supervised_fine_tuning_jobs.get(str(job.name).rsplit("/", 1)[-1])
        assert job.state == "JOB_STATE_FAILED"
        assert job.status is not None
        assert job.status.code == "INTERNAL"
