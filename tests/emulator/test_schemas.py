"""The emulator covers the spec subsets in ``shared/specs``, and its answers match them.

Every answer of every test that uses the ``emu`` fixture is validated after the test (see
``conftest.py``); here, one run per provider drives its SDK through every operation of the
spec subset the emulator serves, so none is left unvalidated. Where a spec is older than the
current SDK the emulator follows the SDK and the spec is loosened in one visible list
(``spec_validator.SPEC_LAGS``); routes the subsets lack are in ``NOT_IN_SPEC``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tuneport.emulator import Emulator

from . import spec_validator
from . import test_fireworks_contract as fw
from . import test_openai_contract as oa
from . import test_together_contract as tg
from .conftest import JOB_SECONDS

if not spec_validator.SPECS.is_dir():  # pragma: no cover - shared/ is beside the checkout
    if os.environ.get("CI") == "true":  # CI must check the schemas, never skip them
        raise RuntimeError(f"CI=true but the specs are missing at {spec_validator.SPECS}")
    pytest.skip("shared/specs is not beside this checkout (a plain clone): the schema "
                "checks need it", allow_module_level=True)

# Spec operations the emulator does not serve, and why.
NOT_EMULATED = {
    "openai": {
        "POST /fine_tuning/alpha/graders/run": "reinforcement-tuning graders",
        "POST /fine_tuning/alpha/graders/validate": "reinforcement-tuning graders",
        "GET /fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions": "sharing",
        "POST /fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions": "sharing",
        "DELETE /fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions/"
        "{permission_id}": "sharing",
    },
    "together": {
        "POST /files/upload": "in the spec but unused by the SDKs (they use the 302 flow)",
        "GET /finetune/download": "model weights (.tar.zst); nothing to download offline",
    },
    "fireworks": {
        "PATCH /v1/accounts/{account_id}/datasets/{dataset_id}": "datasets are immutable",
        "GET /v1/accounts/{account_id}/datasets/{dataset_id}:getDownloadEndpoint": "download",
        "POST /v1/accounts/{account_id}/datasets/{dataset_id}:splitDataset": "evaluation split",
    },
}


def _covered(emu: Emulator, provider: str) -> set[str]:
    out = set()
    for x in emu.exchanges:
        if x.provider == provider and x.status < 400:
            spec_validator.check_exchange(x)
            operation = spec_validator.spec_operation(provider, x.method, x.path)
            if operation is not None:
                out.add(operation)
    return out


def _expected(provider: str) -> set[str]:
    return spec_validator.spec_operations(provider) - set(NOT_EMULATED[provider])


def test_openai_spec_operations_are_all_served(emu: Emulator, train_file: Path) -> None:
    oa.test_whole_life_cycle(emu, train_file)
    oa.test_uploads_api(emu, train_file)
    oa.test_cancel_pause_resume(emu, train_file)
    c = oa.client(emu)
    f = c.files.create(file=train_file, purpose="fine-tune")
    assert c.files.retrieve(f.id).id == f.id
    assert f.id in [x.id for x in c.files.list()]
    assert c.files.delete(f.id).deleted
    assert _covered(emu, "openai") == _expected("openai")


def test_together_spec_operations_are_all_served(emu: Emulator, train_file: Path) -> None:
    import httpx

    tg.test_whole_life_cycle(emu, train_file)
    c = tg.client(emu)
    fid = c.files.list().data[0].id
    assert c.files.content(fid).read() == train_file.read_bytes()
    c.fine_tuning.estimate_price(training_file=fid, model=tg.MODEL)
    supported = c.get("/v1/fine-tunes/models/supported", cast_to=httpx.Response).json()
    assert tg.MODEL in supported["models"]
    job = c.fine_tuning.create(training_file=fid, model=tg.MODEL)
    c.fine_tuning.cancel(job.id)
    assert job.id in [j.id for j in c.fine_tuning.list().data]
    c.fine_tuning.delete(job.id)
    assert c.files.delete(fid).deleted
    assert _covered(emu, "together") == _expected("together")


def test_fireworks_spec_operations_are_all_served(emu: Emulator, train_file: Path) -> None:
    import httpx

    fw.test_whole_life_cycle(emu, train_file)
    fw.test_signed_url_upload(emu, train_file)
    c = fw.client(emu)
    dataset = f"accounts/{fw.ACCOUNT}/datasets/ds1"
    c.post(f"/v1/accounts/{fw.ACCOUNT}/supervisedFineTuningJobs:estimateCost",
           body={"dataset": dataset, "baseModel": fw.BASE}, cast_to=httpx.Response)
    c.supervised_fine_tuning_jobs.create(dataset=dataset, base_model=fw.BASE,
                                         extra_query={"supervisedFineTuningJobId": "job-x"})
    emu.advance(JOB_SECONDS * 0.3)
    c.supervised_fine_tuning_jobs.cancel("job-x", body={})
    assert "job-x" in [str(j.name).rsplit("/", 1)[-1] for j in c.supervised_fine_tuning_jobs.list()]
    assert [d.name for d in c.datasets.list()] == [dataset, f"accounts/{fw.ACCOUNT}/datasets/big"]
    c.supervised_fine_tuning_jobs.delete("job-x")
    c.datasets.delete("big")
    assert _covered(emu, "fireworks") >= _expected("fireworks") - {
        "POST /v1/accounts/{account_id}/supervisedFineTuningJobs/"
        "{supervised_fine_tuning_job_id}:resume"}


def test_fireworks_resume_of_a_failed_job(train_file: Path) -> None:
    from tuneport.emulator import ManualClock, running

    with running(clock=ManualClock(), job_seconds=10, fail_rate=1.0) as emu:
        c = fw.client(emu)
        dataset = fw.ready_dataset(emu, c, train_file)
        c.supervised_fine_tuning_jobs.create(dataset=dataset, base_model=fw.BASE,
                                             extra_query={"supervisedFineTuningJobId": "j"})
        emu.advance(10)
        assert c.supervised_fine_tuning_jobs.get("j").state == "JOB_STATE_FAILED"
        resumed = c.supervised_fine_tuning_jobs.resume("j", body={})
        assert resumed.state == "JOB_STATE_RUNNING"
        assert resumed.job_progress is not None
        assert 0 < (resumed.job_progress.percent or 0) < 100  # from where it failed
        emu.advance(5)  # the 45 % left of a 10 s job
        assert c.supervised_fine_tuning_jobs.get("j").state == "JOB_STATE_COMPLETED"
        assert "POST /v1/accounts/{account_id}/supervisedFineTuningJobs/" \
               "{supervised_fine_tuning_job_id}:resume" in _covered(emu, "fireworks")


def test_validator_catches_a_broken_answer() -> None:
    import jsonschema

    with pytest.raises(jsonschema.ValidationError):
        spec_validator.validate("openai", "GET", "/openai/v1/fine_tuning/jobs/ftjob-1", 200,
                                {"id": "ftjob-1", "object": "fine_tuning.job"})
