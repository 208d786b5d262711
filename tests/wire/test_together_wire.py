"""tuneport's Together requests against the official ``tg`` CLI's, field by field.

The CLI shipped in the ``together`` package (3.1.1, ``together.lib.cli``) runs as a
subprocess with ``TOGETHER_BASE_URL`` at a loopback capture proxy in front of the emulator;
tuneport's adapter sends the same intent through the same proxy. Each test compares one
life-cycle operation (method, path, query, body) and lists, with a reason, every field where
tuneport means to differ. Telemetry and the version check are off and any proxy-able
non-loopback request goes to a dead port, so nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("together")
pytest.importorskip("starlette")

from tuneport._models import FineTuneSpec, RemoteFile, RenderedDataset
from tuneport.emulator import Emulator, ManualClock, running
from tuneport.providers.together import TogetherProvider

from .capture import Captured, CaptureProxy, compare

MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
PROJECT = "proj-emulator"
TG = [sys.executable, "-c", "import sys; from together.lib.cli import main; sys.exit(main())"]

# tuneport adds an idempotency token to the suffix ("<suffix>-tp<12 hex>") so a create whose
# answer was lost can be found and adopted instead of billed twice (Together has no job id
# or metadata a client may choose).
SUFFIX = {
    "suffix": "idempotency token appended to the suffix (adopt-before-retry)",
    # The SDK's create() defaults validation_file to "" ("none"), which tuneport keeps; the
    # CLI passes None, so the field is absent. Both mean no validation file.
    "validation_file": "SDK default '' kept; the CLI omits the field",
}


@dataclass
class Wire:
    """The emulator, the proxy in front of it, the CLI runner and tuneport's adapter."""

    emu: Emulator
    proxy: CaptureProxy
    provider: TogetherProvider
    env: dict[str, str]
    folder: Path
    file_id: str = ""
    job_id: str = ""
    preference_id: str = ""

    def tg(self, *args: str) -> Any:
        """Run ``tg ARGS --json``; the parsed output (None when it printed none)."""
        done = subprocess.run([*TG, *args], env=self.env, capture_output=True, text=True,
                              timeout=120, cwd=self.folder, check=False)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        starts = [i for i in (done.stdout.find("{"), done.stdout.find("[")) if i >= 0]
        if not starts:
            return None
        return json.JSONDecoder().raw_decode(done.stdout[min(starts):])[0]

    def only(self, method: str, path_end: str, taken: list[Captured]) -> Captured:
        """The last request of ``taken`` with this method whose path ends so."""
        hits = [c for c in taken if c.method == method and c.path.endswith(path_end)]
        assert hits, [(c.method, c.path) for c in taken]
        return hits[-1]


def _chat_file(folder: Path, name: str, tag: str = "") -> Path:
    path = folder / name
    rows = [{"messages": [{"role": "user", "content": f"What is {i}+{i}?{tag}"},
                          {"role": "assistant", "content": f"{2 * i}"}]} for i in range(12)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def _rendered(path: Path) -> RenderedDataset:
    import hashlib

    data = path.read_bytes()
    return RenderedDataset(provider="together", path=path, n_examples=12, n_bytes=len(data),
                           fingerprint=hashlib.sha256(data).hexdigest(), format="chat")


@pytest.fixture(scope="module")
def wire(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wire]:
    folder = tmp_path_factory.mktemp("wire-together")
    with running(clock=ManualClock(), job_seconds=100, file_seconds=1.0) as emu, \
            CaptureProxy(emu.together_base_url) as proxy:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOGETHER_")}
        env.update(TOGETHER_API_KEY=emu.api_key, TOGETHER_BASE_URL=proxy.url,
                   TOGETHER_PROJECT_ID=PROJECT, TOGETHER_TELEMETRY_DISABLED="1",
                   TOGETHER_DISABLE_VERSION_CHECK="1", HOME=str(folder),
                   XDG_CONFIG_HOME=str(folder), XDG_CACHE_HOME=str(folder),
                   HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9",
                   NO_PROXY="127.0.0.1,localhost")
        provider = TogetherProvider(api_key=emu.api_key, base_url=proxy.url,
                                    project_id=PROJECT, file_poll_interval=0.0)
        yield Wire(emu, proxy, provider, env, folder)
        provider.close()


def test_upload(wire: Wire) -> None:
    # Each side uploads its own bytes: the same bytes twice would meet Together's checksum
    # dedupe (409, then a GET) on the second side.
    (wire.folder / "cli").mkdir()
    (wire.folder / "ours").mkdir()
    theirs = _chat_file(wire.folder / "cli", "train.jsonl")
    mine = _chat_file(wire.folder / "ours", "train.jsonl", tag=" ")
    answer = wire.tg("files", "upload", str(theirs), "--json")
    official = wire.proxy.take()
    remote = wire.provider.upload(_rendered(mine))
    ours = wire.proxy.take()
    ids = {remote.id: answer["id"]}
    compare(wire.only("POST", "/v1/files", official), wire.only("POST", "/v1/files", ours),
            {"checksum": "sha256 of different bytes (see above)"})
    compare(wire.only("PUT", answer["id"], official), wire.only("PUT", remote.id, ours),
            {"X-Emulator-Signature": "the presigned URL is signed per file"}, ids=ids)
    compare(wire.only("POST", "/preprocess", official), wire.only("POST", "/preprocess", ours),
            {}, ids=ids)
    assert [c.method for c in ours] == [c.method for c in official]
    wire.emu.advance(2)
    wire.file_id = wire.provider.wait_file_ready(remote, timeout=5).id
    wire.proxy.take()


def _create_pair(wire: Wire, cli: list[str], spec: FineTuneSpec, key: str,
                 file_id: str | None = None) -> tuple[Captured, Captured]:
    fid = file_id or wire.file_id
    wire.tg("fine-tuning", "create", "--training-file", fid, "--model", MODEL, "-y",
            "--json", *cli)
    official = wire.only("POST", "/v1/fine-tunes", wire.proxy.take())
    job = wire.provider.create_job(RemoteFile(provider="together", id=fid), spec, key)
    ours = wire.only("POST", "/v1/fine-tunes", wire.proxy.take())
    wire.job_id = job.id
    return official, ours


def test_create_sft_lora(wire: Wire) -> None:
    official, ours = _create_pair(
        wire, ["--lora", "--lora-r", "8", "--lora-alpha", "16", "--n-epochs", "2",
               "--learning-rate", "0.0001", "--batch-size", "max", "--suffix", "support"],
        FineTuneSpec(model=MODEL, method="lora", lora_rank=8, lora_alpha=16, epochs=2,
                     learning_rate=1e-4, batch_size="max", suffix="support"), "k-sft-lora")
    compare(official, ours, SUFFIX)
    assert ours.json["training_method"] == {"method": "sft", "train_on_inputs": "auto"}


def test_create_sft_full(wire: Wire) -> None:
    official, ours = _create_pair(
        wire, ["--lora=false", "--n-epochs", "1", "--learning-rate", "0.00001",
               "--suffix", "full"],
        FineTuneSpec(model=MODEL, method="full", epochs=1, learning_rate=1e-5, suffix="full"),
        "k-sft-full")
    compare(official, ours, SUFFIX)
    assert ours.json["training_type"] == {"type": "Full"}


def _preference_file(wire: Wire) -> str:
    # DPO trains on preference pairs; the service refuses a DPO job on chat data.
    if not wire.preference_id:
        path = wire.folder / "prefs.jsonl"
        rows = [{"input": {"messages": [{"role": "user", "content": f"q{i}"}]},
                 "preferred_output": [{"role": "assistant", "content": f"a{i}"}],
                 "non_preferred_output": [{"role": "assistant", "content": "no"}]}
                for i in range(12)]
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
        wire.preference_id = wire.tg("files", "upload", str(path), "--json")["id"]
        wire.emu.advance(2)
        wire.proxy.take()
    return wire.preference_id


def test_create_dpo_lora(wire: Wire) -> None:
    official, ours = _create_pair(
        # Not 1e-5: the CLI replaces its default rate with 1e-3 for LoRA when given 1e-5.
        wire, ["--training-method", "dpo", "--dpo-beta", "0.2", "--lora", "--lora-r", "8",
               "--lora-alpha", "16", "--learning-rate", "0.00002", "--suffix", "dpo"],
        FineTuneSpec(model=MODEL, method="dpo-lora", beta=0.2, lora_rank=8, lora_alpha=16,
                     learning_rate=2e-5, suffix="dpo"), "k-dpo-lora",
        file_id=_preference_file(wire))
    compare(official, ours, SUFFIX)
    assert ours.json["training_method"]["dpo_beta"] == 0.2  # was dropped before (wire test)


def test_create_dpo_full(wire: Wire) -> None:
    official, ours = _create_pair(
        wire, ["--training-method", "dpo", "--dpo-beta", "0.1", "--lora=false",
               "--learning-rate", "0.00001", "--suffix", "dpofull"],
        FineTuneSpec(model=MODEL, method="dpo-full", beta=0.1, learning_rate=1e-5,
                     suffix="dpofull"), "k-dpo-full", file_id=_preference_file(wire))
    compare(official, ours, SUFFIX)
    assert ours.json["training_type"] == {"type": "Full"}


def test_get(wire: Wire) -> None:
    wire.tg("fine-tuning", "retrieve", wire.job_id, "--json")
    official = wire.only("GET", f"/v1/fine-tunes/{wire.job_id}", wire.proxy.take())
    wire.provider.get_job(wire.job_id)
    ours = wire.only("GET", f"/v1/fine-tunes/{wire.job_id}", wire.proxy.take())
    compare(official, ours, {})


def test_list(wire: Wire) -> None:
    wire.tg("fine-tuning", "list", "--json")
    official = wire.only("GET", "/v1/fine-tunes", wire.proxy.take())
    list(wire.provider.list_jobs(limit=5))
    ours = wire.only("GET", "/v1/fine-tunes", wire.proxy.take())
    compare(official, ours, {})


def test_events(wire: Wire) -> None:
    wire.tg("fine-tuning", "list-events", wire.job_id, "--json")
    official = wire.only("GET", "/events", wire.proxy.take())
    wire.provider.events(wire.job_id)
    ours = wire.only("GET", "/events", wire.proxy.take())
    compare(official, ours, {})


def test_cancel(wire: Wire) -> None:
    wire.emu.advance(20)
    wire.tg("fine-tuning", "cancel", wire.job_id, "--json")
    official = wire.only("POST", "/cancel", wire.proxy.take())
    # The service answers a second cancel of a cancelling job with 400; tuneport cancels a
    # job of its own with the same request shape.
    job = wire.provider.create_job(RemoteFile(provider="together", id=wire.file_id),
                                   FineTuneSpec(model=MODEL, epochs=1), "k-cancel")
    wire.proxy.take()
    wire.emu.advance(20)
    wire.provider.cancel_job(job.id)
    ours = wire.only("POST", "/cancel", wire.proxy.take())
    compare(official, ours, {}, ids={job.id: wire.job_id})


def test_estimate(wire: Wire) -> None:
    held_out = _chat_file(wire.folder / "cli", "valid.jsonl", tag="?")
    answer = wire.tg("files", "upload", str(held_out), "--json")
    wire.emu.advance(2)
    wire.proxy.take()
    wire.tg("fine-tuning", "create", "--training-file", wire.file_id, "--validation-file",
            answer["id"], "--n-evals", "2", "--model", MODEL, "--lora", "--lora-r", "8",
            "--lora-alpha", "16", "--n-epochs", "2", "-y", "--json")
    # The CLI's own estimate comes first (the SDK's create() sends a second one).
    official = next(c for c in wire.proxy.take() if c.path.endswith("/estimate-price"))
    quote = wire.provider.quote(
        RemoteFile(provider="together", id=wire.file_id),
        FineTuneSpec(model=MODEL, method="lora", lora_rank=8, lora_alpha=16, epochs=2),
        validation_file=RemoteFile(provider="together", id=answer["id"]))
    assert quote.available
    ours = wire.only("POST", "/estimate-price", wire.proxy.take())
    compare(official, ours, {
        # The CLI sends "" for "no checkpoint"; tuneport leaves the field out (the spec
        # gives no default other than absent).
        "from_checkpoint": "CLI sends an empty string for none; tuneport omits it",
        "training_type.lora_dropout": "CLI spells out the default (0)",
        "training_type.lora_trainable_modules": "CLI spells out the default (all-linear)",
    })
    assert ours.json["training_method"]["train_on_inputs"] == "auto"
    assert ours.json["n_evals"] == 2


def _mutating(taken: list[Captured]) -> list[Captured]:
    return [c for c in taken if c.method in ("POST", "PATCH", "DELETE")]


def _deployed_pair(wire: Wire) -> tuple[list[Captured], list[Captured], Any, dict[str, str]]:
    fid = RemoteFile(provider="together", id=wire.file_id)
    theirs = wire.provider.create_job(fid, FineTuneSpec(model=MODEL, epochs=1), "k-dep-cli")
    mine = wire.provider.create_job(fid, FineTuneSpec(model=MODEL, epochs=1), "k-dep-ours")
    wire.emu.advance(150)
    theirs, mine = wire.provider.get_job(theirs.id), wire.provider.get_job(mine.id)
    wire.proxy.take()
    # tg endpoints deploy MODEL --endpoint NAME --merge: a LoRA output deployed merged into
    # its base (tuneport's flow); --traffic-weight 1 routes it, as tuneport does.
    wire.tg("endpoints", "deploy", str(theirs.fine_tuned_model), "--endpoint", "my-endpoint",
            "--merge", "--min-replicas", "1", "--max-replicas", "1", "--traffic-weight", "1",
            "--json")
    official = _mutating(wire.proxy.take())
    endpoint = wire.provider.deploy(mine)
    ours = _mutating(wire.proxy.take())
    ids = {str(endpoint.deployment_id): official[-1].json["trafficSplit"][0]["deploymentId"],
           ours[1].path.split("/")[5]: official[1].path.split("/")[5],
           str(mine.raw["model_object_id"]): str(theirs.raw["model_object_id"]),
           ours[-1].json["etag"]: official[-1].json["etag"]}
    return official, ours, mine, ids


def test_deploy_and_undeploy(wire: Wire) -> None:
    official, ours, job, ids = _deployed_pair(wire)
    # Reads differ on purpose and are not compared: the CLI resolves the model by listing
    # the project's models (GET /v2/projects/{p}/models); tuneport reads the job's model
    # object by the id the job reports, and first looks for its own endpoint by name.
    assert [c.method for c in ours] == [c.method for c in official] == ["POST", "POST", "PATCH"]
    names = {"name": "tuneport derives endpoint and deployment names from the job, so a "
                     "second deploy finds them instead of creating a second billed one"}
    compare(official[0], ours[0], names, ids=ids)
    compare(official[1], ours[1], {
        **names,
        "model": "tuneport pins the revision of the job's model object (the CLI sends the "
                 "bare model path, which means the latest revision)"}, ids=ids)
    compare(official[2], ours[2], {}, ids=ids)

    wire.tg("endpoints", "rm", official[1].path.split("/")[5], "--force", "--json")
    official_rm = _mutating(wire.proxy.take())
    wire.provider.undeploy(job)
    ours_rm = _mutating(wire.proxy.take())
    # tg endpoints rm --force first tries DELETE on the endpoint (refused while it holds a
    # deployment), then unroutes, scales to zero and deletes in order; tuneport goes
    # straight to the ordered teardown.
    assert official_rm[0].method == "DELETE"
    teardown = official_rm[1:]
    assert [c.method for c in ours_rm] == [c.method for c in teardown] == [
        "PATCH", "PATCH", "DELETE", "DELETE"]
    for theirs, mine in zip(teardown, ours_rm, strict=True):
        compare(theirs, mine, {}, ids=ids)
