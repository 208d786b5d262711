"""The official ``together`` SDK (3.x), unchanged, against the emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

together = pytest.importorskip("together")

from tuneport.emulator import Emulator  # noqa: E402

from .conftest import JOB_SECONDS  # noqa: E402

MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"


def client(emu: Emulator, **kwargs: object) -> together.Together:
    options: dict[str, object] = {"max_retries": 0, "project_id": "proj-emulator"}
    options.update(kwargs)
    return together.Together(base_url=emu.together_base_url, api_key=emu.api_key, **options)


def upload_ready(emu: Emulator, c: together.Together, path: Path) -> str:
    f = c.files.upload(path, purpose="fine-tune", check=False)
    assert f.processing_status == "RUNNING"
    emu.advance(1.0)
    return str(f.id)


def test_whole_life_cycle(emu: Emulator, train_file: Path) -> None:
    c = client(emu)
    fid = upload_ready(emu, c, train_file)
    info = c.files.retrieve(fid)
    assert info.processing_status == "COMPLETED"
    assert info.validation_report is not None
    assert info.validation_report.nlines == 12
    assert info.bytes == train_file.stat().st_size
    job = c.fine_tuning.create(training_file=fid, model=MODEL, n_epochs=2, suffix="support",
                               lora=True)
    assert job.status == "pending"
    seen = [job.status]
    for _ in range(20):
        emu.advance(JOB_SECONDS / 20)
        job = c.fine_tuning.retrieve(job.id)
        if job.status != seen[-1]:
            seen.append(job.status)
    assert seen == ["pending", "queued", "running", "uploading", "completed"]
    assert job.x_model_output_name is not None
    assert "support" in job.x_model_output_name
    assert job.total_price
    assert job.total_price > 0
    assert job.token_count

    events = c.fine_tuning.list_events(job.id).data
    types = [e.type for e in events]
    assert types[0] == "job_pending"
    assert types[-1] == "job_complete"
    assert "checkpoint_save" in types
    metrics = c.fine_tuning.list_metrics(job.id).metrics
    losses = [m["train/loss"] for m in metrics]
    assert len(losses) > 3
    assert losses == sorted(losses, reverse=True)
    ckpts = c.fine_tuning.list_checkpoints(job.id).data
    assert {ck.checkpoint_type for ck in ckpts} >= {"Final Merged", "Final Adapter"}

    # Serverless LoRA is gone: the output name alone is not callable.
    with pytest.raises(together.BadRequestError):
        c.chat.completions.create(model=job.x_model_output_name,
                                  messages=[{"role": "user", "content": "hi"}])
    endpoint = c.endpoints.create(name="support-bot")
    assert endpoint.name == "emulator/support-bot"  # project-qualified, as the type says
    autoscaling = {"min_replicas": 1, "max_replicas": 1}
    # A job's output *name* is not a model resource path: refused, as the API documents.
    with pytest.raises(together.BadRequestError, match="resource name"):
        c.endpoints.deployments.create(endpoint.id, name="blue", model=job.x_model_output_name,
                                       autoscaling=autoscaling)
    # The official CLI's flow: the job's model object as a path, a config of its base.
    assert job.api_model_object_id is not None
    model = c.models.retrieve(job.api_model_object_id)
    assert model.weights.type == "WEIGHTS_TYPE_ADAPTER"
    configs = list(c.models.configs.list(reference_model_id=model.base_model_id))
    assert len(configs) == 1
    model_path = f"projects/{model.project_id}/models/{model.id}"
    with pytest.raises(together.BadRequestError, match="config"):
        c.endpoints.deployments.create(endpoint.id, name="blue", model=model_path,
                                       autoscaling=autoscaling)
    with pytest.raises(together.BadRequestError, match="'/'"):
        c.endpoints.deployments.create(
            endpoint.id, name="a/b", model=model_path, autoscaling=autoscaling,
            config=f"projects/{configs[0].project_id}/configs/{configs[0].id}")
    dep = c.endpoints.deployments.create(
        endpoint.id, name="blue", model=model_path, autoscaling=autoscaling,
        config=f"projects/{configs[0].project_id}/configs/{configs[0].id}")
    assert dep.status.state == "DEPLOYMENT_STATE_PROVISIONING"
    assert dep.name == "emulator/support-bot/blue"
    assert dep.model.startswith(model_path + "/revisions/")
    emu.advance(5)
    dep = c.endpoints.deployments.retrieve(dep.id, endpoint_id=endpoint.id)
    assert dep.status.state == "DEPLOYMENT_STATE_READY"
    # Ready but unrouted: an empty traffic split routes nothing.
    with pytest.raises(together.BadRequestError, match="unrouted"):
        c.chat.completions.create(model=endpoint.name,
                                  messages=[{"role": "user", "content": "hello"}])
    endpoint = c.endpoints.update(endpoint.id, traffic_split=[{"deployment_id": dep.id,
                                                               "weight": 1.0}],
                                  update_mask="trafficSplit", etag=endpoint.etag)
    assert [e.deployment_id for e in endpoint.traffic_split] == [dep.id]
    reply = c.chat.completions.create(model=endpoint.name,
                                      messages=[{"role": "user", "content": "hello"}])
    assert "hello" in (reply.choices[0].message.content or "")
    assert [e.id for e in c.endpoints.list().data] == [endpoint.id]
    assert [e.id for e in c.endpoints.list(filter='name="support-bot"').data] == [endpoint.id]
    assert c.endpoints.list(filter='name="other"').data == []
    assert c.endpoints.retrieve(endpoint.id).name == "emulator/support-bot"
    assert [d.id for d in c.endpoints.deployments.list(endpoint.id).data] == [dep.id]
    # Stopping follows `tg endpoints rm --force`: each refusal below is the service's.
    with pytest.raises(together.BadRequestError, match="deployments"):
        c.endpoints.delete(endpoint.id)
    with pytest.raises(together.BadRequestError, match="live traffic"):
        c.endpoints.deployments.delete(dep.id, endpoint_id=endpoint.id)
    c.endpoints.update(endpoint.id, traffic_split=[], update_mask="trafficSplit")
    with pytest.raises(together.BadRequestError, match="stopped"):
        c.endpoints.deployments.delete(dep.id, endpoint_id=endpoint.id)
    stopped = c.endpoints.deployments.update(
        dep.id, endpoint_id=endpoint.id, autoscaling={"min_replicas": 0, "max_replicas": 0},
        update_mask="autoscaling")
    assert stopped.status.state == "DEPLOYMENT_STATE_STOPPED"
    c.endpoints.deployments.delete(dep.id, endpoint_id=endpoint.id)
    with pytest.raises(together.BadRequestError):  # unrouted, nothing left
        c.chat.completions.create(model=endpoint.name,
                                  messages=[{"role": "user", "content": "hello"}])
    c.endpoints.delete(endpoint.id)
    assert c.endpoints.list().data == []


def test_estimate_and_limits(emu: Emulator, train_file: Path) -> None:
    c = client(emu)
    limits = c.fine_tuning.model_limits(model_name=MODEL)
    assert limits.lora_training.max_rank == 64
    with pytest.raises(together.NotFoundError):
        c.fine_tuning.model_limits(model_name="nobody/nothing")
    f = c.files.upload(train_file, purpose="fine-tune", check=False)
    early = c.fine_tuning.estimate_price(training_file=f.id, model=MODEL)
    assert early.estimation_available is False
    emu.advance(1.0)
    est = c.fine_tuning.estimate_price(training_file=f.id, model=MODEL, n_epochs=3)
    assert est.estimation_available
    assert est.estimated_total_price > 0
    assert est.estimated_train_token_count
    assert est.estimated_train_token_count > 0


def test_same_file_twice_is_deduplicated(emu: Emulator, train_file: Path) -> None:
    c = client(emu)
    first = upload_ready(emu, c, train_file)
    again = c.files.upload(train_file, purpose="fine-tune", check=False)
    assert again.id == first


def test_cancel(emu: Emulator, train_file: Path) -> None:
    c = client(emu)
    fid = upload_ready(emu, c, train_file)
    job = c.fine_tuning.create(training_file=fid, model=MODEL)
    emu.advance(JOB_SECONDS * 0.3)
    assert c.fine_tuning.cancel(job.id).status == "cancel_requested"
    emu.advance(JOB_SECONDS)
    job = c.fine_tuning.retrieve(job.id)
    assert job.status == "cancelled"
    assert [e.type for e in c.fine_tuning.list_events(job.id).data][-2:] == [
        "cancel_requested", "job_stopped"]
    with pytest.raises(together.BadRequestError):
        c.fine_tuning.cancel(job.id)
    assert [j.id for j in c.fine_tuning.list().data] == [job.id]


def test_malformed_file_is_rejected(emu: Emulator, bad_file: Path) -> None:
    c = client(emu)
    fid = upload_ready(emu, c, bad_file)
    info = c.files.retrieve(fid)
    assert info.processing_status == "INVALID_FORMAT"
    assert info.validation_report is not None
    assert info.validation_report.error is not None
    assert info.validation_report.error.startswith("Line 3: `messages[0]` must contain a `role`")
    est = c.fine_tuning.estimate_price(training_file=fid, model=MODEL)
    assert est.unavailable_reason == "train_file_invalid"
    with pytest.raises(together.BadRequestError):
        c.fine_tuning.create(training_file=fid, model=MODEL, model_limits=None)


def test_random_failure(train_file: Path) -> None:
    from tuneport.emulator import ManualClock, running

    with running(clock=ManualClock(), job_seconds=10, fail_rate=1.0) as emu:
        c = client(emu)
        fid = upload_ready(emu, c, train_file)
        job = c.fine_tuning.create(training_file=fid, model=MODEL)
        emu.advance(10)
        job = c.fine_tuning.retrieve(job.id)
        assert job.status == "error"
        assert c.fine_tuning.list_events(job.id).data[-1].type == "job_error"
