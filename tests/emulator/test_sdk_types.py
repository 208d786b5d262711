"""Every emulator answer parses with the official SDK's own response type.

The SDKs build their return values without validating them (``construct``), so a wrong
shape can pass the contract tests unnoticed. Here each answer of a fine-tuning life cycle
(upload, create, get, list, events, checkpoints, metrics, estimate, cancel) is put through
the SDK type's ``model_validate`` (pydantic, strict about required fields and types), and
every JSON route the drive touched must have a type here or a reason it has none.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic
import pytest

openai = pytest.importorskip("openai")
together = pytest.importorskip("together")
fireworks = pytest.importorskip("fireworks")

from fireworks.types import (  # noqa: E402
    Dataset,
    DatasetGetUploadEndpointResponse,
    DatasetUploadResponse,
    SupervisedFineTuningJob,
)
from openai.types import FileDeleted, FileObject, Upload  # noqa: E402
from openai.types.fine_tuning import FineTuningJob, FineTuningJobEvent  # noqa: E402
from openai.types.fine_tuning.jobs import FineTuningJobCheckpoint  # noqa: E402
from openai.types.uploads import UploadPart  # noqa: E402
from together.types import (  # noqa: E402
    FileDeleteResponse,
    FileList,
    FileResponse,
    FinetuneModelLimits,
    FinetuneResponse,
    FineTuningCancelResponse,
    FineTuningEstimatePriceResponse,
    FineTuningListCheckpointsResponse,
    FineTuningListEventsResponse,
    FineTuningListMetricsResponse,
    FineTuningListResponse,
)

from tuneport.emulator import Emulator  # noqa: E402

from . import test_fireworks_contract as fw  # noqa: E402
from . import test_openai_contract as oa  # noqa: E402
from . import test_together_contract as tg  # noqa: E402
from .conftest import JOB_SECONDS  # noqa: E402

Check = Callable[[Any], object]


def _as(kind: Any) -> Check:
    # A TypeAdapter also reads the SDK types that are unions or aliases, not classes.
    adapter = pydantic.TypeAdapter(kind)
    return adapter.validate_python


def _each(kind: Any, key: str = "data") -> Check:
    read = _as(kind)

    def check(body: Any) -> object:
        return [read(item) for item in body[key]]
    return check


def _openai_job(body: Any) -> object:
    # The spec's own /pause example answers status "paused", which the SDK's FineTuningJob
    # literal lacks (the SDK reads it anyway: it does not validate). Everything else holds.
    if body.get("status") == "paused":
        body = {**body, "status": "queued"}
    return _as(FineTuningJob)(body)


def _each_job(body: Any) -> object:
    return [_openai_job(item) for item in body["data"]]


ACCOUNTS = "/v1/accounts/{account_id}"
JOBS = "/v1/accounts/{account_id}/supervisedFineTuningJobs"
DATASETS = "/v1/accounts/{account_id}/datasets"

#: (provider, "METHOD route") -> how the SDK's own types read the answer.
TYPES: dict[tuple[str, str], Check] = {
    ("openai", "POST /files"): _as(FileObject),
    ("openai", "GET /files"): _each(FileObject),
    ("openai", "GET /files/{file_id}"): _as(FileObject),
    ("openai", "DELETE /files/{file_id}"): _as(FileDeleted),
    ("openai", "POST /uploads"): _as(Upload),
    ("openai", "POST /uploads/{upload_id}/parts"): _as(UploadPart),
    ("openai", "POST /uploads/{upload_id}/complete"): _as(Upload),
    ("openai", "POST /uploads/{upload_id}/cancel"): _as(Upload),
    ("openai", "POST /fine_tuning/jobs"): _openai_job,
    ("openai", "GET /fine_tuning/jobs"): _each_job,
    ("openai", "GET /fine_tuning/jobs/{job_id}"): _openai_job,
    ("openai", "POST /fine_tuning/jobs/{job_id}/cancel"): _openai_job,
    ("openai", "POST /fine_tuning/jobs/{job_id}/pause"): _openai_job,
    ("openai", "POST /fine_tuning/jobs/{job_id}/resume"): _openai_job,
    ("openai", "GET /fine_tuning/jobs/{job_id}/events"): _each(FineTuningJobEvent),
    ("openai", "GET /fine_tuning/jobs/{job_id}/checkpoints"): _each(FineTuningJobCheckpoint),
    ("together", "POST /v1/files/{file_id}/preprocess"): _as(FileResponse),
    ("together", "GET /v1/files"): _as(FileList),
    ("together", "GET /v1/files/{file_id}"): _as(FileResponse),
    ("together", "DELETE /v1/files/{file_id}"): _as(FileDeleteResponse),
    ("together", "GET /v1/fine-tunes/models/limits"): _as(FinetuneModelLimits),
    ("together", "POST /v1/fine-tunes/estimate-price"):
        _as(FineTuningEstimatePriceResponse),
    ("together", "POST /v1/fine-tunes"): _as(FinetuneResponse),
    ("together", "GET /v1/fine-tunes"): _as(FineTuningListResponse),
    ("together", "GET /v1/fine-tunes/{job_id}"): _as(FinetuneResponse),
    ("together", "POST /v1/fine-tunes/{job_id}/cancel"): _as(FineTuningCancelResponse),
    ("together", "GET /v1/fine-tunes/{job_id}/events"): _as(FineTuningListEventsResponse),
    ("together", "GET /v1/fine-tunes/{job_id}/checkpoints"):
        _as(FineTuningListCheckpointsResponse),
    ("together", "GET /v1/fine-tunes/{job_id}/metrics"):
        _as(FineTuningListMetricsResponse),
    ("fireworks", f"POST {DATASETS}"): _as(Dataset),
    ("fireworks", f"GET {DATASETS}"): _each(Dataset, "datasets"),
    ("fireworks", f"GET {DATASETS}/{{name}}"): _as(Dataset),
    ("fireworks", f"POST {DATASETS}/{{name}}:upload"): _as(DatasetUploadResponse),
    ("fireworks", f"POST {DATASETS}/{{name}}:getUploadEndpoint"):
        _as(DatasetGetUploadEndpointResponse),
    ("fireworks", f"POST {JOBS}"): _as(SupervisedFineTuningJob),
    ("fireworks", f"GET {JOBS}"): _each(SupervisedFineTuningJob, "supervisedFineTuningJobs"),
    ("fireworks", f"GET {JOBS}/{{name}}"): _as(SupervisedFineTuningJob),
}

#: JSON answers with no SDK type to read them, and why.
UNTYPED = {
    ("openai", "POST /chat/completions"): "inference; not part of this life cycle",
    ("together", "GET /v1/fine-tunes/models/supported"): "the SDK has no method or type",
    ("fireworks", f"POST {DATASETS}/{{name}}:validateUpload"): "the SDK returns object ({})",
    ("fireworks", f"POST {JOBS}/{{name}}:cancel"): "the SDK returns object ({})",
    ("fireworks", f"DELETE {JOBS}/{{name}}"): "the SDK returns object ({})",
    ("fireworks", f"POST {JOBS}:estimateCost"): "no SDK method (raw post); the reply is "
                                                  "checked against the spec schema",
}


def _route(x: Any) -> str:
    route = f"{x.method} {x.route}"
    last = x.path.rsplit("/", 1)[-1]
    if ":" in last and not x.route.endswith(last.split(":", 1)[1]):
        route += ":" + last.split(":", 1)[1]
    return route


def _check_all(emu: Emulator) -> set[tuple[str, str]]:
    seen = set()
    for x in emu.exchanges:
        if x.status >= 400 or x.body is None:
            continue
        key = (x.provider, _route(x))
        seen.add(key)
        assert key in TYPES or key in UNTYPED, f"no SDK type for {key}"
        if key in TYPES:
            TYPES[key](x.body)
    return seen


def test_openai_answers_parse_as_sdk_types(emu: Emulator, train_file: Path) -> None:
    oa.test_whole_life_cycle(emu, train_file)
    oa.test_uploads_api(emu, train_file)
    oa.test_cancel_pause_resume(emu, train_file)
    c = oa.client(emu)
    f = c.files.create(file=train_file, purpose="fine-tune")
    c.files.retrieve(f.id)
    c.files.list()
    c.files.delete(f.id)
    seen = _check_all(emu)
    assert {k for k in TYPES if k[0] == "openai"} <= seen


def test_together_answers_parse_as_sdk_types(emu: Emulator, train_file: Path,
                                             tmp_path: Path) -> None:
    tg.test_estimate_and_limits(emu, train_file)
    c = tg.client(emu)
    fid = c.files.list().data[0].id
    doomed = c.fine_tuning.create(training_file=fid, model=tg.MODEL)
    emu.advance(JOB_SECONDS * 0.3)
    c.fine_tuning.cancel(doomed.id)
    job = c.fine_tuning.create(training_file=fid, model=tg.MODEL, n_epochs=2,
                               validation_file=fid, n_evals=2)
    emu.advance(JOB_SECONDS * 1.5)
    assert c.fine_tuning.retrieve(job.id).status == "completed"
    c.fine_tuning.list()
    c.fine_tuning.list_checkpoints(job.id)
    c.fine_tuning.list_metrics(job.id)
    c.fine_tuning.list_events(job.id)
    # A file of a purpose that skips validation has no processing_status (SDK docstring).
    evals = tmp_path / "eval.jsonl"
    evals.write_text('{"prompt": "a", "completion": "b"}\n')
    other = c.files.upload(evals, purpose="eval", check=False)
    assert c.files.retrieve(other.id).processing_status is None
    c.files.delete(other.id)
    seen = _check_all(emu)
    assert {k for k in TYPES if k[0] == "together"} <= seen


def test_fireworks_answers_parse_as_sdk_types(emu: Emulator, train_file: Path) -> None:
    import httpx

    fw.test_list_pages_and_cancel(emu, train_file)
    fw.test_signed_url_upload(emu, train_file)
    c = fw.client(emu)
    c.datasets.list()
    c.post(f"/v1/accounts/{fw.ACCOUNT}/supervisedFineTuningJobs:estimateCost",
           body={"dataset": f"accounts/{fw.ACCOUNT}/datasets/ds1", "baseModel": fw.BASE},
           cast_to=httpx.Response)
    seen = _check_all(emu)
    assert {k for k in TYPES if k[0] == "fireworks"} <= seen


def test_a_wrong_shape_is_caught() -> None:
    with pytest.raises(pydantic.ValidationError):
        TYPES[("together", "GET /v1/fine-tunes/{job_id}")]({"id": "ft-1"})


def test_listing_answers_parse_as_sdk_types(emu: Emulator) -> None:
    # What `tuneport catalog verify` and the official CLI read about a provider itself.
    import openai.types as openai_types
    import together.types as together_types
    from fireworks.types import Model as FireworksModel
    from together.types.endpoints import HardwareListResponse

    checks: dict[tuple[str, str], Check] = {
        ("openai", "GET /models"): _each(openai_types.Model),
        ("together", "GET /v2/public/inference-instance-types"): _as(HardwareListResponse),
        ("together", "GET /v3/whoami"): _as(together_types.WhoamiResponse),
        ("fireworks", f"GET {ACCOUNTS}/models"): _each(FireworksModel, "models"),
    }
    oa.client(emu).models.list()
    c = tg.client(emu)
    c.endpoints.hardware.list()
    c.get("/v3/whoami", cast_to=object)
    fw.client(emu).models.list(account_id="fireworks")
    seen = set()
    for x in emu.exchanges:
        key = (x.provider, _route(x))
        assert key in checks, key
        checks[key](x.body)
        seen.add(key)
    assert seen == set(checks)


def test_deployment_answers_parse_as_sdk_types(emu: Emulator, train_file: Path) -> None:
    # tuneport's own deploy and undeploy drive the routes; the SDKs' types read the answers.
    from fireworks.types import Deployment
    from together.types import Endpoint, EndpointDeployment
    from together.types import Model as TogetherModel

    from tuneport._models import FineTuneSpec, RenderedDataset
    from tuneport.providers.fireworks import FireworksProvider
    from tuneport.providers.together import TogetherProvider

    data = train_file.read_bytes()
    rendered = {p: RenderedDataset(provider=p, path=train_file, n_examples=12, n_bytes=len(data),
                                   fingerprint=f"{p}-types", format="chat")
                for p in ("together", "fireworks")}
    proj = "/v2/projects/{project_id}"
    eps = proj + "/endpoints"
    deps = eps + "/{endpoint_id}/deployments"
    checks: dict[tuple[str, str], Check] = {
        ("together", f"GET {eps}"): _each(Endpoint),
        ("together", f"POST {eps}"): _as(Endpoint),
        ("together", f"GET {eps}/{{endpoint_id}}"): _as(Endpoint),
        ("together", f"PATCH {eps}/{{endpoint_id}}"): _as(Endpoint),
        ("together", f"POST {deps}"): _as(EndpointDeployment),
        ("together", f"PATCH {deps}/{{deployment_id}}"): _as(EndpointDeployment),
        ("together", f"GET {proj}/models/{{model_id}}"): _as(TogetherModel),
        ("fireworks", f"POST {ACCOUNTS}/deployments"): _as(Deployment),
        ("fireworks", f"GET {ACCOUNTS}/deployments/{{deployment_id}}"): _as(Deployment),
    }
    untyped = {  # answered {} (the SDKs read them as plain objects) or a config list
        ("together", f"DELETE {eps}/{{endpoint_id}}"),
        ("together", f"DELETE {deps}/{{deployment_id}}"),
        ("together", f"GET {proj}/configs"),
        ("fireworks", f"DELETE {ACCOUNTS}/deployments/{{deployment_id}}"),
    }
    tgp = TogetherProvider(api_key=emu.api_key, base_url=emu.together_base_url,
                           project_id="proj-emulator", file_poll_interval=0.0)
    fwp = FireworksProvider(api_key=emu.api_key, base_url=emu.fireworks_base_url,
                            account_id="acct1", dataset_poll_interval=0.0)
    for provider, model in ((tgp, tg.MODEL), (fwp, fw.BASE)):
        remote = provider.upload(rendered[provider.name])
        emu.advance(2)
        remote = provider.wait_file_ready(remote, timeout=5)
        job = provider.create_job(remote, FineTuneSpec(model=model, epochs=1), f"k-{model}")
        emu.advance(JOB_SECONDS * 1.5)
        job = provider.get_job(job.id)
        provider.deploy(job)
        emu.advance(10)
        provider.endpoint(job)
        provider.undeploy(job)
        provider.close()
    seen = set()
    for x in emu.exchanges:
        key = (x.provider, _route(x))
        if x.status >= 400 or x.body is None or key in untyped or key not in checks:
            continue
        checks[key](x.body)
        seen.add(key)
    assert seen == set(checks)
