"""tuneport's Fireworks requests against the published Gateway REST reference.

No official tool covers Fireworks' fine-tuning jobs from Python (``firectl`` is a separate
binary; the ``fireworks-ai`` SDK is generated from the same reference), so the official side
of each comparison is the request written out from the reference and its examples, cited
beside it; bodies are also held to the SDK's typed request parameters
(``SupervisedFineTuningJobCreateParams``, ``DatasetCreateParams``, ``DatasetParam``).
tuneport's side is what its adapter sent through a capture proxy in front of the emulator.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("fireworks")
pytest.importorskip("starlette")

from fireworks.types.dataset_create_params import DatasetCreateParams
from fireworks.types.dataset_param import DatasetParam
from fireworks.types.supervised_fine_tuning_job_create_params import (
    SupervisedFineTuningJobCreateParams,
)

from tuneport._models import FineTuneSpec, RemoteFile, RenderedDataset
from tuneport.emulator import Emulator, ManualClock, running
from tuneport.providers.fireworks import FireworksProvider

from .capture import Captured, CaptureProxy, compare, official, typed_keys

ACCOUNT = "acct1"
ACCT = f"/v1/accounts/{ACCOUNT}"
BASE = "accounts/fireworks/models/llama-v3p1-8b-instruct"
DATASET, JOB = "my-dataset", "my-job"
STATE: dict[str, str] = {}


@dataclass
class Wire:
    emu: Emulator
    proxy: CaptureProxy
    provider: FireworksProvider
    folder: Path


@pytest.fixture(scope="module")
def wire(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wire]:
    folder = tmp_path_factory.mktemp("wire-fireworks")
    with running(clock=ManualClock(), job_seconds=100, file_seconds=1.0) as emu, \
            CaptureProxy(emu.url + "/fireworks") as proxy:
        provider = FireworksProvider(api_key=emu.api_key, base_url=proxy.url,
                                     account_id=ACCOUNT, dataset_poll_interval=0.0)
        yield Wire(emu, proxy, provider, folder)
        provider.close()


def _one(taken: list[Captured], method: str, end: str) -> Captured:
    hits = [c for c in taken if c.method == method and c.path.endswith(end)]
    assert len(hits) == 1, [(c.method, c.path) for c in taken]
    return hits[0]


def _typed(body: dict[str, object], params: object) -> None:
    required, allowed = typed_keys(params)
    assert required <= set(body), f"missing {required - set(body)}"
    assert set(body) <= allowed, f"not in the SDK's params: {set(body) - allowed}"


def test_upload(wire: Wire) -> None:
    path = wire.folder / "train.jsonl"
    rows = [{"messages": [{"role": "user", "content": f"q{i}"},
                          {"role": "assistant", "content": f"a{i}"}]} for i in range(12)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    data = path.read_bytes()
    remote = wire.provider.upload(RenderedDataset(
        provider="fireworks", path=path, n_examples=12, n_bytes=len(data),
        fingerprint=hashlib.sha256(data).hexdigest(), format="chat"))
    taken = wire.proxy.take()
    dataset_id = remote.id.rsplit("/", 1)[-1]
    ids = {dataset_id: DATASET}
    # https://docs.fireworks.ai/api-reference/create-dataset: the client names the dataset
    # and gives exampleCount (an int64 as a string); userUploaded marks an upload.
    create = _one(taken, "POST", "/datasets")
    compare(official("POST", f"{ACCT}/datasets", {
        "datasetId": DATASET, "dataset": {"userUploaded": {}, "exampleCount": "12"}}),
        create, {"dataset.format": "tuneport names the format (CHAT) instead of leaving "
                                   "Fireworks to infer it"}, ids=ids)
    _typed(create.json, DatasetCreateParams)
    _typed(create.json["dataset"], DatasetParam)
    # https://docs.fireworks.ai/api-reference/upload-dataset-files: multipart field "file"
    # (up to 150 MB; larger files use :getUploadEndpoint, see tests/providers).
    compare(official("POST", f"{ACCT}/datasets/{DATASET}:upload", {
        "__form__": True, "file": {"filename": "train.jsonl", "bytes": len(data)}}),
        _one(taken, "POST", ":upload"), {}, ids=ids)
    wire.emu.advance(2)
    STATE["dataset"] = wire.provider.wait_file_ready(remote, timeout=5).id
    wire.proxy.take()


def _dataset() -> RemoteFile:
    assert "dataset" in STATE, "test_upload runs first"
    return RemoteFile(provider="fireworks", id=STATE["dataset"])


def test_estimate(wire: Wire) -> None:
    quote = wire.provider.quote(_dataset(), FineTuneSpec(model=BASE, epochs=2))
    assert quote.available
    ours = _one(wire.proxy.take(), "POST", ":estimateCost")
    # Gateway REST reference 4.259.0, POST .../supervisedFineTuningJobs:estimateCost: the
    # body is the job as it would be created.
    compare(official("POST", f"{ACCT}/supervisedFineTuningJobs:estimateCost", {
        "dataset": f"accounts/{ACCOUNT}/datasets/{DATASET}", "baseModel": BASE, "epochs": 2}),
        ours, {}, ids={STATE["dataset"].rsplit("/", 1)[-1]: DATASET})
    _typed(ours.json, SupervisedFineTuningJobCreateParams)


def test_create_sft_lora(wire: Wire) -> None:
    job = wire.provider.create_job(_dataset(), FineTuneSpec(model=BASE, epochs=2, lora_rank=8),
                                   "k-sft")
    ours = _one(wire.proxy.take(), "POST", "/supervisedFineTuningJobs")
    job_id = job.id.rsplit("/", 1)[-1]
    STATE["job"] = job_id
    # https://docs.fireworks.ai/api-reference/create-supervised-fine-tuning-job: the job id
    # is a query parameter, the body is the job itself (unwrapped, as the SDK sends it).
    example = official("POST", f"{ACCT}/supervisedFineTuningJobs", {
        "dataset": f"accounts/{ACCOUNT}/datasets/{DATASET}", "baseModel": BASE,
        "epochs": 2, "loraRank": 8}, query={"supervisedFineTuningJobId": [JOB]})
    compare(example, ours, {
        "displayName": "tuneport labels its jobs in the console ('tuneport <base model>')"},
        ids={STATE["dataset"].rsplit("/", 1)[-1]: DATASET, job_id: JOB})
    _typed({**ours.json, "supervisedFineTuningJobId": job_id}, SupervisedFineTuningJobCreateParams)


def test_get_and_events(wire: Wire) -> None:
    job_id = STATE["job"]
    wire.provider.get_job(job_id)
    # https://docs.fireworks.ai/api-reference/get-supervised-fine-tuning-job
    compare(official("GET", f"{ACCT}/supervisedFineTuningJobs/{JOB}"),
            _one(wire.proxy.take(), "GET", job_id), {}, ids={job_id: JOB})
    # Fireworks has no event route for SFT jobs: tuneport derives events from the job.
    wire.provider.events(job_id)
    assert [(c.method, c.path) for c in wire.proxy.take()] == [
        ("GET", f"{ACCT}/supervisedFineTuningJobs/{job_id}")]


def test_list(wire: Wire) -> None:
    list(wire.provider.list_jobs(limit=5))
    taken = wire.proxy.take()
    # https://docs.fireworks.ai/api-reference/list-supervised-fine-tuning-jobs
    # (pageSize default 50, max 200; pageToken; orderBy).
    compare(official("GET", f"{ACCT}/supervisedFineTuningJobs", query={"pageSize": ["5"]}),
            _one(taken, "GET", "/supervisedFineTuningJobs"),
            {"orderBy": "newest first, as every provider's list in tuneport"})


def test_cancel(wire: Wire) -> None:
    job_id = STATE["job"]
    wire.emu.advance(20)
    wire.provider.cancel_job(job_id)
    # https://docs.fireworks.ai/api-reference/cancel-supervised-fine-tuning-job: POST
    # .../supervisedFineTuningJobs/{id}:cancel with an empty JSON object.
    compare(official("POST", f"{ACCT}/supervisedFineTuningJobs/{JOB}:cancel", {}),
            _one(wire.proxy.take(), "POST", ":cancel"), {}, ids={job_id: JOB})


def test_deploy_and_undeploy(wire: Wire) -> None:
    from fireworks.types.deployment_create_params import DeploymentCreateParams

    wire.emu.advance(150)  # the jobs above finish (one was cancelled; start a fresh one)
    job = wire.provider.create_job(_dataset(), FineTuneSpec(model=BASE, epochs=1), "k-dep")
    wire.emu.advance(150)
    job = wire.provider.get_job(job.id)
    wire.proxy.take()
    endpoint = wire.provider.deploy(job)
    ours = [c for c in wire.proxy.take() if c.method != "GET"]
    deployment = str(endpoint.deployment_id).rsplit("/", 1)[-1]
    model = str(job.fine_tuned_model)
    ids = {deployment: "my-deployment", model.rsplit("/", 1)[-1]: "my-model"}
    # https://docs.fireworks.ai/fine-tuning/deploying-loras ("live merge": firectl deployment
    # create accounts/<ACCOUNT>/models/<FT>, one LoRA served merged) and
    # https://docs.fireworks.ai/api-reference/create-deployment: the deployment id is a
    # query parameter, baseModel the fine-tuned model, a replica and one H100.
    example = official("POST", f"{ACCT}/deployments", {
        "baseModel": f"accounts/{ACCOUNT}/models/my-model", "minReplicaCount": 1,
        "maxReplicaCount": 1, "acceleratorType": "NVIDIA_H100_80GB", "acceleratorCount": 1},
        query={"deploymentId": ["my-deployment"]})
    assert [c.method for c in ours] == ["POST"]  # live merge: no separate LoRA load
    compare(example, ours[0], {}, ids=ids)
    required, allowed = typed_keys(DeploymentCreateParams)
    assert required <= set(ours[0].json) <= allowed

    wire.provider.undeploy(job)
    stop = [c for c in wire.proxy.take() if c.method != "GET"]
    # https://docs.fireworks.ai/api-reference/delete-deployment
    assert len(stop) == 1
    compare(official("DELETE", f"{ACCT}/deployments/my-deployment"), stop[0], {}, ids=ids)


def test_create_get_cancel_dpo(wire: Wire) -> None:
    from fireworks.types.dpo_job_create_params import DpoJobCreateParams

    path = wire.folder / "pairs.jsonl"
    rows = [{"input": {"messages": [{"role": "user", "content": f"q{i}"}]},
             "preferred_output": [{"role": "assistant", "content": f"good {i}"}],
             "non_preferred_output": [{"role": "assistant", "content": f"bad {i}"}]}
            for i in range(12)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    data = path.read_bytes()
    remote = wire.provider.upload(RenderedDataset(
        provider="fireworks", path=path, n_examples=12, n_bytes=len(data),
        fingerprint=hashlib.sha256(data).hexdigest(), format="preference"))
    wire.emu.advance(2)
    dataset = wire.provider.wait_file_ready(remote, timeout=5)
    wire.proxy.take()
    spec = FineTuneSpec(model=BASE, method="dpo-lora", beta=0.1, epochs=2, lora_rank=8)
    job = wire.provider.create_job(dataset, spec, "k-dpo")
    ours = _one(wire.proxy.take(), "POST", "/dpoJobs")
    job_id = job.id
    ids = {dataset.id.rsplit("/", 1)[-1]: "my-pairs", job_id: "my-dpo-job"}
    # https://docs.fireworks.ai/api-reference/create-dpo-job: POST .../dpoJobs (the id as
    # the dpoJobId query parameter, as firectl create dpo-job --job-id), body: dataset,
    # trainingConfig {baseModel, epochs, loraRank, ...}, lossConfig. The SDK's newer types
    # (fireworks-ai 1.2.30 ReinforcementLearningLossConfig, DpoConfig) carry beta as
    # lossConfig.dpo.beta with method DPO; the published page still shows only klBeta.
    example = official("POST", f"{ACCT}/dpoJobs", {
        "dataset": f"accounts/{ACCOUNT}/datasets/my-pairs",
        "trainingConfig": {"baseModel": BASE, "epochs": 2, "loraRank": 8},
        "lossConfig": {"method": "DPO", "dpo": {"beta": 0.1}}},
        query={"dpoJobId": ["my-dpo-job"]})
    compare(example, ours, {
        "displayName": "tuneport labels its jobs in the console ('tuneport dpo <model>')"},
        ids=ids)
    _typed({**ours.json, "dpoJobId": job_id}, DpoJobCreateParams)

    wire.provider.get_job(job_id)
    # https://docs.fireworks.ai/api-reference/get-dpo-job
    compare(official("GET", f"{ACCT}/dpoJobs/my-dpo-job"),
            _one(wire.proxy.take(), "GET", job_id), {}, ids=ids)
    wire.emu.advance(20)
    wire.provider.cancel_job(job_id)
    # Cancel as for supervised jobs: POST .../dpoJobs/{id}:cancel with {} (the SDK's
    # dpo_jobs.cancel), then the job read back.
    compare(official("POST", f"{ACCT}/dpoJobs/my-dpo-job:cancel", {}),
            _one(wire.proxy.take(), "POST", ":cancel"), {}, ids=ids)
