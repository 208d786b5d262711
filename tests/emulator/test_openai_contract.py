"""The official ``openai`` SDK, unchanged, against the emulator (no tuneport adapter code)."""

from __future__ import annotations

from pathlib import Path

import pytest

openai = pytest.importorskip("openai")

from tuneport.emulator import Emulator  # noqa: E402

from .conftest import JOB_SECONDS  # noqa: E402


def client(emu: Emulator, **kwargs: object) -> openai.OpenAI:
    options: dict[str, object] = {"max_retries": 0}
    options.update(kwargs)
    return openai.OpenAI(base_url=emu.openai_base_url, api_key=emu.api_key, **options)


def test_whole_life_cycle(emu: Emulator, train_file: Path) -> None:
    c = client(emu)
    f = c.files.create(file=train_file, purpose="fine-tune")
    assert f.id.startswith("file-")
    assert f.bytes == train_file.stat().st_size
    job = c.fine_tuning.jobs.create(
        model="gpt-4o-mini-2024-07-18", training_file=f.id, suffix="support",
        metadata={"tuneport_key": "k1"},
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}})
    assert job.status == "validating_files"
    assert job.fine_tuned_model is None
    assert job.trained_tokens is None
    seen = [job.status]
    for _ in range(20):
        emu.advance(JOB_SECONDS / 10)
        job = c.fine_tuning.jobs.retrieve(job.id)
        if job.status != seen[-1]:
            seen.append(job.status)
    assert seen == ["validating_files", "queued", "running", "succeeded"]
    assert job.fine_tuned_model == f"ft:gpt-4o-mini-2024-07-18:org-emulator:support:{job.id[-8:]}"
    assert job.trained_tokens
    assert job.trained_tokens > 0
    assert job.hyperparameters.n_epochs == 2
    assert job.finished_at is not None
    assert job.finished_at >= job.created_at

    events = list(c.fine_tuning.jobs.list_events(job.id, limit=1000))
    messages = [e.message for e in events]
    assert messages[0] == "The job has successfully completed"  # newest first
    assert messages[-1] == f"Created fine-tuning job: {job.id}"
    losses = [e.data["train_loss"] for e in reversed(events) if e.type == "metrics"]
    assert len(losses) > 3
    assert losses == sorted(losses, reverse=True)
    assert losses[0] > losses[-1]

    ckpts = c.fine_tuning.jobs.checkpoints.list(job.id).data
    assert [ck.step_number for ck in ckpts] == sorted((ck.step_number for ck in ckpts),
                                                      reverse=True)
    assert ckpts[0].fine_tuned_model_checkpoint.startswith(job.fine_tuned_model + ":ckpt-step-")

    reply = c.chat.completions.create(model=job.fine_tuned_model,
                                      messages=[{"role": "user", "content": "hello"}])
    again = c.chat.completions.create(model=job.fine_tuned_model,
                                      messages=[{"role": "user", "content": "hello"}])
    assert reply.choices[0].message.content == again.choices[0].message.content
    assert "hello" in (reply.choices[0].message.content or "")

    found = c.fine_tuning.jobs.list(metadata={"tuneport_key": "k1"}).data
    assert [j.id for j in found] == [job.id]
    assert c.fine_tuning.jobs.list(metadata={"tuneport_key": "other"}).data == []


def test_events_are_paged_with_after_cursor(emu: Emulator, train_file: Path) -> None:
    c = client(emu)
    f = c.files.create(file=train_file, purpose="fine-tune")
    job = c.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=f.id)
    emu.advance(JOB_SECONDS)
    everything = [e.id for e in c.fine_tuning.jobs.list_events(job.id, limit=1000).data]
    paged = [e.id for e in c.fine_tuning.jobs.list_events(job.id, limit=3)]  # auto-paginates
    assert paged == everything
    assert len(everything) > 6


def test_job_list_pagination(emu: Emulator, train_file: Path) -> None:
    c = client(emu)
    f = c.files.create(file=train_file, purpose="fine-tune")
    ids = [c.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=f.id).id
           for _ in range(5)]
    first = c.fine_tuning.jobs.list(limit=2)
    assert first.has_more
    assert [j.id for j in first.data] == ids[::-1][:2]
    assert [j.id for j in c.fine_tuning.jobs.list(limit=2)] == ids[::-1]


def test_cancel_pause_resume(emu: Emulator, train_file: Path) -> None:
    c = client(emu)
    f = c.files.create(file=train_file, purpose="fine-tune")
    job = c.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=f.id)
    emu.advance(JOB_SECONDS * 0.3)
    assert c.fine_tuning.jobs.pause(job.id).status == "paused"
    emu.advance(JOB_SECONDS * 5)
    assert c.fine_tuning.jobs.retrieve(job.id).status == "paused"  # no progress while paused
    assert c.fine_tuning.jobs.resume(job.id).status == "queued"
    emu.advance(JOB_SECONDS * 0.1)
    assert c.fine_tuning.jobs.retrieve(job.id).status == "running"
    cancelled = c.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled"
    emu.advance(JOB_SECONDS)
    assert c.fine_tuning.jobs.retrieve(job.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError):
        c.fine_tuning.jobs.cancel(job.id)
    kinds = [e.message for e in c.fine_tuning.jobs.list_events(job.id, limit=1000)]
    assert "Fine-tuning job paused" in kinds
    assert "Fine-tuning job resumed" in kinds


def test_malformed_file_fails_validation(emu: Emulator, bad_file: Path) -> None:
    c = client(emu)
    f = c.files.create(file=bad_file, purpose="fine-tune")
    job = c.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=f.id)
    emu.advance(JOB_SECONDS)
    job = c.fine_tuning.jobs.retrieve(job.id)
    assert job.status == "failed"
    assert job.error is not None
    assert job.error.code == "invalid_training_file"
    assert job.error.param == "training_file"
    assert "Line 3" in job.error.message
    with pytest.raises(openai.NotFoundError):
        c.chat.completions.create(model="ft:gpt-4o-mini-2024-07-18:org-emulator::x",
                                  messages=[{"role": "user", "content": "hi"}])


def test_too_few_examples(emu: Emulator, tmp_path: Path, train_file: Path) -> None:
    small = tmp_path / "small.jsonl"
    small.write_text("".join(train_file.read_text().splitlines(keepends=True)[:4]))
    c = client(emu)
    f = c.files.create(file=small, purpose="fine-tune")
    job = c.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=f.id)
    emu.advance(JOB_SECONDS)
    job = c.fine_tuning.jobs.retrieve(job.id)
    assert job.status == "failed"
    assert job.error is not None
    assert job.error.code == "invalid_n_examples"


def test_random_failure(train_file: Path) -> None:
    from tuneport.emulator import ManualClock, running

    with running(clock=ManualClock(), job_seconds=10, fail_rate=1.0) as emu:
        c = client(emu)
        f = c.files.create(file=train_file, purpose="fine-tune")
        job = c.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=f.id)
        emu.advance(4)
        assert c.fine_tuning.jobs.retrieve(job.id).status == "running"
        emu.advance(10)
        job = c.fine_tuning.jobs.retrieve(job.id)
        assert job.status == "failed"
        assert job.error is not None
        assert job.error.code == "server_error"
        assert job.fine_tuned_model is None


def test_uploads_api(emu: Emulator, train_file: Path) -> None:
    c = client(emu)
    data = train_file.read_bytes()
    up = c.uploads.create(bytes=len(data), filename="train.jsonl", mime_type="text/jsonl",
                          purpose="fine-tune")
    p1 = c.uploads.parts.create(up.id, data=data[:100])
    p2 = c.uploads.parts.create(up.id, data=data[100:])
    done = c.uploads.complete(up.id, part_ids=[p1.id, p2.id])
    assert done.status == "completed"
    assert done.file is not None
    assert c.files.content(done.file.id).content == data
    other = c.uploads.create(bytes=10, filename="x.jsonl", mime_type="text/jsonl",
                             purpose="fine-tune")
    assert c.uploads.cancel(other.id).status == "cancelled"


def test_bad_requests(emu: Emulator, train_file: Path) -> None:
    c = client(emu)
    with pytest.raises(openai.BadRequestError) as exc:
        c.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file="file-nope")
    assert exc.value.param == "training_file"
    f = c.files.create(file=train_file, purpose="fine-tune")
    with pytest.raises(openai.BadRequestError) as exc:
        c.fine_tuning.jobs.create(model="gpt-9", training_file=f.id)
    assert exc.value.code == "model_not_available"
    with pytest.raises(openai.NotFoundError):
        c.fine_tuning.jobs.retrieve("ftjob-missing")
    text = train_file.with_suffix(".txt")
    text.write_bytes(train_file.read_bytes())
    with pytest.raises(openai.BadRequestError, match=r"Must be \.jsonl"):
        c.files.create(file=text, purpose="fine-tune")


def test_fine_tuning_closed_is_a_permission_denied(emu: Emulator, train_file: Path) -> None:
    import httpx2
    import jsonschema

    from . import spec_validator

    c = client(emu)
    f = c.files.create(file=train_file, purpose="fine-tune")
    emu.openai_fine_tuning_closed = True
    with pytest.raises(openai.PermissionDeniedError) as exc:
        c.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=f.id)
    assert exc.value.status_code == 403
    assert exc.value.code == "permission_denied"
    assert exc.value.type == "invalid_request_error"
    assert exc.value.param is None
    assert "fine-tuning" in exc.value.message
    body = exc.value.response.json()
    if spec_validator.SPECS.is_dir():  # OpenAI's generic error body
        spec = spec_validator._spec("openai")
        jsonschema.validate(body, {"$ref": "#/components/schemas/ErrorResponse",
                                   "components": spec["components"]},
                            cls=jsonschema.Draft202012Validator)
    # Files, reads and chat still work; nothing was created.
    assert c.files.retrieve(f.id).id == f.id
    assert c.fine_tuning.jobs.list().data == []
    # The HTTP control opens (and closes) job creation for an emulator in another process.
    control = emu.url + "/_emulator/openai/fine-tuning"
    assert httpx2.post(control, json={"closed": False}).json() == {"closed": False}
    assert c.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=f.id).id
    assert httpx2.post(control, json={"closed": True}).json() == {"closed": True}
    assert emu.openai_fine_tuning_closed
    with pytest.raises(openai.PermissionDeniedError):
        c.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=f.id)
    assert httpx2.post(control, json={"closed": "yes"}).status_code == 400
