"""The emulator refuses request bodies the published request schemas refuse.

Its rules (``tuneport.emulator._requests``) are written out from ``shared/specs``; here they
are held to the specs (the same required fields at every level, no field a spec lacks), and
a body missing each required field is sent to the running emulator, which must answer the
provider's 400 naming the field. The ``emu`` fixture then holds every error body to the
provider's error schema. Under CI (``CI=true``) the specs must be present.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest

from tuneport.emulator import Emulator
from tuneport.emulator._requests import RULES, check_body

from . import spec_validator

if not spec_validator.SPECS.is_dir():  # pragma: no cover - shared/ is beside the checkout
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"CI=true but the specs are missing at {spec_validator.SPECS}")
    pytest.skip("shared/specs is not beside this checkout (a plain clone): the request "
                "schema checks need it", allow_module_level=True)

PREFIX = {"openai": "/openai/v1", "together": "/together", "fireworks": "/fireworks"}

# Spec operations with a JSON body the emulator does not hold to a rule, and why.
NOT_CHECKED = {
    "openai": {
        "POST /fine_tuning/alpha/graders/run": "graders are not emulated",
        "POST /fine_tuning/alpha/graders/validate": "graders are not emulated",
        "POST /fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions":
            "sharing is not emulated",
    },
    "together": {
        "GET /fine-tunes/{id}/metrics": "the spec puts GET filters in a body; the SDK sends "
                                        "them as query parameters",
    },
    "fireworks": {
        "PATCH /v1/accounts/{account_id}/datasets/{dataset_id}": "datasets are immutable here",
        "POST /v1/accounts/{account_id}/datasets/{dataset_id}:splitDataset": "not emulated",
        "POST /v1/accounts/{account_id}/datasets/{dataset_id}:validateUpload": "empty body",
        "POST /v1/accounts/{account_id}/supervisedFineTuningJobs/"
        "{supervised_fine_tuning_job_id}:cancel": "empty body",
        "POST /v1/accounts/{account_id}/supervisedFineTuningJobs/"
        "{supervised_fine_tuning_job_id}:resume": "empty body",
    },
}


def _concrete(provider: str, key: str) -> tuple[str, str]:
    method, route = key.split(" ", 1)
    path = route.replace("{account_id}", "acct1").replace("{name}", "ds1")
    path = path.replace("{upload_id}", "upload_x")
    return method, PREFIX[provider] + path


def _resolve(node: Any, components: dict[str, Any]) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = components[node["$ref"].rsplit("/", 1)[-1]]
    return node


def _spec_body(provider: str, key: str) -> dict[str, Any]:
    method, path = _concrete(provider, key)
    operation = spec_validator.spec_operation(provider, method, path)
    assert operation is not None, f"{provider} {key} is not an operation of the spec"
    spec = spec_validator._spec(provider)
    op = spec["paths"][operation.split(" ", 1)[1]][method.lower()]
    content = op["requestBody"]["content"]
    schema = next(iter(content.values()))["schema"]
    resolved: dict[str, Any] = _resolve(schema, spec["components"]["schemas"])
    return resolved


def _branches(node: Any, components: dict[str, Any]) -> list[dict[str, Any]]:
    """The object branches of a union, nested unions flattened (``[]`` for a non-union)."""
    node = _resolve(node, components)
    out: list[dict[str, Any]] = []
    for branch in node.get("oneOf", []) + node.get("anyOf", []):
        branch = _resolve(branch, components)
        if "oneOf" in branch or "anyOf" in branch:
            out += _branches(branch, components)
        elif isinstance(branch, dict) and branch.get("type") == "object":
            out.append(branch)
    return out


def _required_tree(schema: Any, components: dict[str, Any], mirror: Any,
                   where: str = "") -> set[str]:
    """Dotted paths of every required field, following objects and tagged unions.

    Only the parts ``mirror`` (the emulator's rule) also describes are followed: deep
    read-only parts of a resource (a dataset's ``evaluationResult``) are not request fields.
    """
    schema = _resolve(schema, components)
    out: set[str] = set()
    if not isinstance(schema, dict) or not isinstance(mirror, dict):
        return out
    mirrors = _branches(mirror, {})
    for branch in _branches(schema, components):
        if branch.get("type") == "object":
            tag = next(iter(branch.get("properties", {})), "")
            enum = _resolve(branch["properties"].get(tag, {}), components).get("enum", ["?"])
            twin = next((m for m in mirrors if enum[0] in
                         m.get("properties", {}).get(tag, {}).get("enum", [])), {})
            out |= _required_tree(branch, components, twin, f"{where}<{enum[0]}>")
    for key in schema.get("required", []):
        out.add(f"{where}.{key}" if where else key)
    for key, sub in schema.get("properties", {}).items():
        ours = mirror.get("properties", {}).get(key)
        if isinstance(ours, dict) and ("properties" in ours or "required" in ours
                                       or "oneOf" in ours or "anyOf" in ours):
            out |= _required_tree(sub, components, ours, f"{where}.{key}" if where else key)
    return out


@pytest.mark.parametrize(("provider", "key"), sorted(RULES))
def test_each_rule_requires_what_its_spec_requires(provider: str, key: str) -> None:
    components = spec_validator._spec(provider)["components"]["schemas"]
    spec_body = _spec_body(provider, key)
    rule = RULES[(provider, key)]
    assert _required_tree(rule, {}, rule) == _required_tree(spec_body, components, rule)
    unknown = set(rule.get("properties", {})) - set(spec_body.get("properties", {}))
    assert unknown == set(), f"the rule knows fields the spec lacks: {unknown}"


@pytest.mark.parametrize("provider", ["openai", "together", "fireworks"])
def test_every_spec_body_is_checked_or_excused(provider: str) -> None:
    spec = spec_validator._spec(provider)
    with_json = set()
    for template, ops in spec["paths"].items():
        for method, op in ops.items():
            content = (op.get("requestBody") or {}).get("content", {}) if isinstance(op, dict) \
                else {}
            if "application/json" in content:
                with_json.add(f"{method.upper()} {template}")
    covered = set()
    for (p, key) in RULES:
        if p == provider:
            method, path = _concrete(p, key)
            covered.add(spec_validator.spec_operation(p, method, path))
    assert with_json - covered == set(NOT_CHECKED[provider])


# Bodies the official SDKs send (each passes its rule); a test drops one field at a time.
SENT = {
    ("together", "POST /v1/fine-tunes"): {
        "training_file": "file-x", "model": "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
        "training_method": {"method": "sft", "train_on_inputs": "auto"},
        "training_type": {"type": "Lora", "lora_r": 8, "lora_alpha": 16}},
    ("together", "POST /v1/fine-tunes/estimate-price"): {
        "training_file": "file-x", "model": "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
        "training_method": {"method": "sft", "train_on_inputs": "auto"},
        "training_type": {"type": "Lora", "lora_r": 8, "lora_alpha": 16}},
    ("openai", "POST /fine_tuning/jobs"): {
        "model": "gpt-4o-mini-2024-07-18", "training_file": "file-x",
        "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 1}}}},
    ("openai", "POST /uploads"): {"filename": "a.jsonl", "purpose": "fine-tune", "bytes": 10,
                                  "mime_type": "text/jsonl"},
    ("openai", "POST /uploads/{upload_id}/complete"): {"part_ids": ["part_x"]},
    ("fireworks", "POST /v1/accounts/{account_id}/supervisedFineTuningJobs"): {
        "dataset": "accounts/acct1/datasets/ds1",
        "baseModel": "accounts/fireworks/models/llama-v3p1-8b-instruct"},
    ("fireworks", "POST /v1/accounts/{account_id}/supervisedFineTuningJobs:estimateCost"): {
        "dataset": "accounts/acct1/datasets/ds1",
        "baseModel": "accounts/fireworks/models/llama-v3p1-8b-instruct"},
    ("fireworks", "POST /v1/accounts/{account_id}/datasets"): {
        "datasetId": "ds1", "dataset": {"userUploaded": {}, "exampleCount": "12"}},
    ("fireworks", "POST /v1/accounts/{account_id}/datasets/{name}:getUploadEndpoint"): {
        "filenameToSize": {"train.jsonl": "1000"}},
}


def _drops(body: dict[str, Any], rule: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(dotted field, body without it) for every required field the body carries."""
    out = []
    for key in rule.get("required", []):
        out.append((key, {k: v for k, v in body.items() if k != key}))
    sft = body.get("training_method")
    if isinstance(sft, dict) and sft.get("method") == "sft":
        out.append(("training_method.train_on_inputs",
                    {**body, "training_method": {"method": "sft"}}))
    lora = body.get("training_type")
    if isinstance(lora, dict) and lora.get("type") == "Lora":
        out.append(("training_type.lora_r", {**body, "training_type": {
            "type": "Lora", "lora_alpha": 16}}))
    return out


def test_the_sdk_bodies_meet_the_rules() -> None:
    assert set(SENT) == set(RULES)
    for key, body in SENT.items():
        assert check_body(RULES[key], body) == [], key


@pytest.mark.parametrize(("provider", "key"), sorted(SENT))
def test_a_body_missing_a_required_field_gets_the_providers_400(
        emu: Emulator, provider: str, key: tuple[str, str] | str) -> None:
    assert isinstance(key, str)
    method, path = _concrete(provider, key)
    drops = _drops(SENT[(provider, key)], RULES[(provider, key)])
    assert drops
    with httpx.Client(base_url=emu.url, timeout=10,
                      headers={"Authorization": f"Bearer {emu.api_key}"}) as http:
        for field, body in drops:
            answer = http.request(method, path, json=body)
            assert answer.status_code == 400, (field, answer.text)
            error = answer.json()
            if provider == "fireworks":
                assert error["code"] == 3  # google.rpc INVALID_ARGUMENT
                assert f"'{field}'" in error["message"]
            else:
                assert error["error"]["param"] == field
                assert error["error"]["code"] == "missing_required_parameter"
                assert f"'{field}'" in error["error"]["message"]


def test_wrong_types_and_unknown_openai_fields_are_refused(emu: Emulator) -> None:
    with httpx.Client(base_url=emu.url, timeout=10,
                      headers={"Authorization": f"Bearer {emu.api_key}"}) as http:
        body = dict(SENT[("together", "POST /v1/fine-tunes")], n_epochs="three")
        answer = http.post("/together/v1/fine-tunes", json=body)
        assert answer.status_code == 400
        assert answer.json()["error"]["param"] == "n_epochs"
        body = dict(SENT[("openai", "POST /fine_tuning/jobs")], n_epochs=3)
        answer = http.post("/openai/v1/fine_tuning/jobs", json=body)
        assert answer.status_code == 400
        assert answer.json()["error"]["message"] == \
            "Unrecognized request argument supplied: n_epochs"
        body = dict(SENT[("openai", "POST /fine_tuning/jobs")], suffix="x" * 65)
        assert http.post("/openai/v1/fine_tuning/jobs", json=body).json()["error"][
            "param"] == "suffix"


def test_the_together_sdk_without_train_on_inputs_is_refused(emu: Emulator) -> None:
    # tuneport's old estimate request: the SDK passes it through, the service refuses it.
    together = pytest.importorskip("together")
    client = together.Together(base_url=emu.together_base_url, api_key=emu.api_key,
                               max_retries=0)
    with pytest.raises(together.BadRequestError, match=r"training_method\.train_on_inputs"):
        client.fine_tuning.estimate_price(
            training_file="file-x", model="meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
            training_method={"method": "sft"},  # type: ignore[typeddict-item]
        )
    client.close()
