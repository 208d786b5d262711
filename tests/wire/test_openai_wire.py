"""tuneport's OpenAI requests against the published API reference, field by field.

The current ``openai`` package ships no CLI, so the official side of each comparison is the
request written out from OpenAI's API reference and its request examples (each cited
beside it; the same examples are the ``x-oaiMeta`` blocks of openai/openai-openapi, in
``shared/specs/openai-finetuning-subset.yaml``). tuneport's side is what its adapter sent
through a loopback capture proxy in front of the emulator. Bodies are also held to the
SDK's typed request parameters (``job_create_params.JobCreateParams``). OpenAI has no
price-estimate API, so there is no estimate request to compare.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("openai")
pytest.importorskip("starlette")

from openai.types.fine_tuning.job_create_params import JobCreateParams

from tuneport._models import FineTuneSpec, RenderedDataset
from tuneport.emulator import Emulator, ManualClock, running
from tuneport.providers.openai import OpenAIProvider

from .capture import Captured, CaptureProxy, compare, official, typed_keys

MODEL = "gpt-4o-mini-2024-07-18"
# The reference examples' ids; tuneport's own ids are mapped onto them.
FILE, JOB = "file-abc123", "ftjob-abc123"
# tuneport tags each job with its idempotency key so a create whose answer was lost can be
# found (GET /fine_tuning/jobs?metadata[tuneport_key]=...) instead of billed twice.
METADATA = {"metadata.tuneport_key": "idempotency key (adopt-before-retry)"}
# The examples use the alias gpt-4o-mini; tuneport sends the dated snapshot its catalog
# prices (an alias may move to a new snapshot with another price).
SNAPSHOT = {"model": "dated snapshot instead of the alias"}
JOBS: dict[str, str] = {}


@dataclass
class Wire:
    emu: Emulator
    proxy: CaptureProxy
    provider: OpenAIProvider
    folder: Path


@pytest.fixture(scope="module")
def wire(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wire]:
    folder = tmp_path_factory.mktemp("wire-openai")
    with running(clock=ManualClock(), job_seconds=100) as emu, \
            CaptureProxy(emu.url + "/openai") as proxy:
        provider = OpenAIProvider(api_key=emu.api_key, base_url=proxy.url + "/v1")
        yield Wire(emu, proxy, provider, folder)
        provider.close()


def _rendered(folder: Path, name: str, preference: bool = False) -> RenderedDataset:
    path = folder / name
    rows: list[dict[str, object]] = [
        {"messages": [{"role": "user", "content": f"q{i}"},
                      {"role": "assistant", "content": f"a{i}"}]} for i in range(12)]
    if preference:
        rows = [{"input": {"messages": [{"role": "user", "content": f"q{i}"}]},
                 "preferred_output": [{"role": "assistant", "content": f"a{i}"}],
                 "non_preferred_output": [{"role": "assistant", "content": "no"}]}
                for i in range(12)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    data = path.read_bytes()
    return RenderedDataset(provider="openai", path=path, n_examples=12, n_bytes=len(data),
                           fingerprint=hashlib.sha256(data).hexdigest(),
                           format="preference" if preference else "chat")


def _one(taken: list[Captured], method: str, end: str) -> Captured:
    hits = [c for c in taken if c.method == method and c.path.endswith(end)]
    assert len(hits) == 1, [(c.method, c.path) for c in taken]
    return hits[0]


def _check_typed(body: dict[str, object]) -> None:
    required, allowed = typed_keys(JobCreateParams)
    assert required <= set(body)
    assert set(body) <= allowed


def test_upload_and_create_sft(wire: Wire) -> None:
    remote = wire.provider.upload(_rendered(wire.folder, "mydata.jsonl"))
    upload = _one(wire.proxy.take(), "POST", "/v1/files")
    # https://platform.openai.com/docs/api-reference/files/create
    # curl https://api.openai.com/v1/files -F purpose="fine-tune" -F file="@mydata.jsonl"
    # (the example's expires_after fields are optional; tuneport keeps files until deleted)
    compare(official("POST", "/v1/files", {"__form__": True, "purpose": "fine-tune",
                                          "file": upload.form["file"]}), upload, {})
    assert upload.form["file"]["filename"] == "mydata.jsonl"

    job = wire.provider.create_job(remote, FineTuneSpec(model=MODEL, epochs=2), "k-sft")
    ours = _one(wire.proxy.take(), "POST", "/v1/fine_tuning/jobs")
    # https://platform.openai.com/docs/api-reference/fine-tuning/create (example "Epochs")
    example = {"training_file": FILE, "model": "gpt-4o-mini", "method": {
        "type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}}}
    compare(official("POST", "/v1/fine_tuning/jobs", example), ours, {**METADATA, **SNAPSHOT},
            ids={remote.id: FILE})
    _check_typed(ours.json)
    wire.emu.advance(10)
    JOBS["sft"] = job.id


def test_create_dpo(wire: Wire) -> None:
    train = wire.provider.upload(_rendered(wire.folder, "prefs.jsonl", preference=True))
    wire.proxy.take()
    wire.provider.create_job(train, FineTuneSpec(model=MODEL, method="dpo-lora", beta=0.1),
                             "k-dpo", validation_file=train)
    ours = _one(wire.proxy.take(), "POST", "/v1/fine_tuning/jobs")
    # https://platform.openai.com/docs/api-reference/fine-tuning/create (example "DPO")
    example = {"training_file": FILE, "validation_file": FILE, "model": "gpt-4o-mini",
               "method": {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.1}}}}
    compare(official("POST", "/v1/fine_tuning/jobs", example), ours, {**METADATA, **SNAPSHOT},
            ids={train.id: FILE})
    _check_typed(ours.json)


def _job(wire: Wire) -> str:
    assert "sft" in JOBS, "test_upload_and_create_sft runs first (the tests share one job)"
    return JOBS["sft"]


def test_get(wire: Wire) -> None:
    job_id = _job(wire)
    wire.provider.get_job(job_id)
    # https://platform.openai.com/docs/api-reference/fine-tuning/retrieve
    compare(official("GET", f"/v1/fine_tuning/jobs/{JOB}"),
            _one(wire.proxy.take(), "GET", job_id), {}, ids={job_id: JOB})


def test_list(wire: Wire) -> None:
    list(wire.provider.list_jobs(limit=2))
    # https://platform.openai.com/docs/api-reference/fine-tuning/list
    # curl https://api.openai.com/v1/fine_tuning/jobs?limit=2&metadata[key]=value
    example = official("GET", "/v1/fine_tuning/jobs",
                       query={"limit": ["2"], "metadata[key]": ["value"]})
    compare(example, _one(wire.proxy.take(), "GET", "/v1/fine_tuning/jobs"),
            {"metadata[key]": "the example filters by metadata; listing every job does not"})


def test_events(wire: Wire) -> None:
    job_id = _job(wire)
    wire.provider.events(job_id)
    # https://platform.openai.com/docs/api-reference/fine-tuning/list-events
    compare(official("GET", f"/v1/fine_tuning/jobs/{JOB}/events"),
            _one(wire.proxy.take(), "GET", "/events"),
            {"limit": "tuneport reads 100 events a page (the API's default is 20) to need "
                      "fewer requests"}, ids={job_id: JOB})


def test_cancel(wire: Wire) -> None:
    job_id = _job(wire)
    wire.provider.cancel_job(job_id)
    # https://platform.openai.com/docs/api-reference/fine-tuning/cancel
    compare(official("POST", f"/v1/fine_tuning/jobs/{JOB}/cancel"),
            _one(wire.proxy.take(), "POST", "/cancel"), {}, ids={job_id: JOB})


def test_deploy_and_undeploy_send_nothing(wire: Wire) -> None:
    # OpenAI serves fine-tuned models serverless (model=<fine_tuned_model> on
    # /v1/chat/completions, https://platform.openai.com/docs/guides/supervised-fine-tuning):
    # there is no deployment to create or delete, so neither call may reach the API with
    # anything but reads.
    job = wire.provider.get_job(_job(wire))
    wire.proxy.take()
    wire.provider.deploy(job)
    wire.provider.undeploy(job)
    assert [c.method for c in wire.proxy.take() if c.method != "GET"] == []
