"""Validate emulator answers against the providers' OpenAPI subsets in ``../shared/specs``."""

from __future__ import annotations

import copy
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SPECS = Path(__file__).resolve().parents[3] / "shared" / "specs"
FILES = {"openai": "openai-finetuning-subset.yaml", "together": "together-finetuning-subset.yaml",
         "fireworks": "fireworks-finetuning-subset.yaml"}
# What to cut from a request path to get the spec's path.
STRIP = {"openai": "/openai/v1", "together": "/together/v1", "fireworks": "/fireworks"}
_VALIDATORS: dict[str, jsonschema.Draft202012Validator] = {}


def _nullable_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable: true`` becomes JSON Schema's ``null`` type."""
    if isinstance(node, list):
        return [_nullable_to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable_to_json_schema(v) for k, v in node.items()}
    # OpenAPI 3.0's boolean exclusiveMinimum/-Maximum qualify minimum/maximum; JSON Schema
    # 2020-12 reads a number there (true would mean "> 1": every DPO beta < 1 refused).
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(bound), bool) and out.pop(bound) and limit in out:
            out[bound] = out.pop(limit)
    if out.pop("nullable", False):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def _allow_auto_train_on_inputs(schemas: dict[str, Any]) -> None:
    # Together's spec gives train_on_inputs both oneOf [bool, "auto"] and type: boolean,
    # so its own default "auto" fails; SDK 3.1.1 sends "auto". The emulator follows the SDK.
    schemas["TrainingMethodSFT"]["properties"]["train_on_inputs"].pop("type", None)


def _lr_scheduler_args_any_of(schemas: dict[str, Any]) -> None:
    # Together's LRScheduler.lr_scheduler_args is oneOf [linear, cosine] with open objects,
    # so cosine args (a superset of linear's) match both and oneOf can never pass.
    args = schemas["LRScheduler"]["properties"]["lr_scheduler_args"]
    args["anyOf"] = args.pop("oneOf")


def _rpc_status(schemas: dict[str, Any]) -> None:
    # Fireworks error bodies are google.rpc.Status with a numeric code (observed, e.g.
    # {"code": 7, "message": ..., "details": []}); the spec only has gatewayStatus, the
    # string-coded status *inside* resources. The emulator follows the wire.
    schemas["RpcStatus"] = {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "integer", "minimum": 0, "maximum": 16},
                       "message": {"type": "string"}, "details": {"type": "array"}}}


def _allow_paused(schemas: dict[str, Any]) -> None:
    # OpenAI's status enum lacks "paused", yet the spec's own /pause example returns it and
    # the SDK accepts it. The emulator follows the example.
    schemas["FineTuningJob"]["properties"]["status"]["enum"].append("paused")


# Where a spec is older than (or contradicts) the SDK, and which side the emulator follows.
SPEC_LAGS = {"together": [_allow_auto_train_on_inputs, _lr_scheduler_args_any_of],
             "openai": [_allow_paused], "fireworks": [_rpc_status]}

# The schema every error answer must match (no route in the subsets declares its errors).
ERROR_SCHEMAS = {"openai": "ErrorResponse", "together": "ErrorData", "fireworks": "RpcStatus"}

# Routes the emulator serves that the spec subsets do not describe, and where their shapes
# come from instead. A JSON answer on any other route must validate against the spec.
NOT_IN_SPEC = {
    "openai": {
        "POST /chat/completions": "inference, outside the fine-tuning subset; shape from the "
                                  "SDK's ChatCompletion type",
        "GET /models": "model listing (catalog verify); shape from the SDK's Model type",
    },
    "together": {
        "POST /v1/files/{file_id}/preprocess": "not in the spec (the 3.x SDK's upload flow, "
                                               "providers.md 2.2); answers a FileResponse",
        "POST /v1/files/multipart/initiate": "not in the spec; the shape the 3.x SDK's "
                                             "MultipartUploadManager reads",
        "POST /v1/files/multipart/complete": "not in the spec; a FileResponse, as the 3.x "
                                             "SDK's MultipartUploadManager reads it",
        "POST /v1/files/multipart/abort": "not in the spec (3.x SDK source)",
        "POST /v1/chat/completions": "inference, outside the fine-tuning subset",
        "GET /v2/public/inference-instance-types": "hardware and prices (catalog verify): "
                                                   "SDK 3.x HardwareListResponse",
        "GET /v3/whoami": "the key's identity (the official CLI reads it): SDK WhoamiResponse",
        "POST /v2/projects/{project_id}/endpoints": "v2 endpoints: SDK 3.x types",
        "GET /v2/projects/{project_id}/endpoints": "v2 endpoints: SDK 3.x types",
        "GET /v2/projects/{project_id}/endpoints/{endpoint_id}": "v2 endpoints: SDK 3.x types",
        "DELETE /v2/projects/{project_id}/endpoints/{endpoint_id}": "v2 endpoints",
        "POST /v2/projects/{project_id}/endpoints/{endpoint_id}/deployments": "v2 endpoints",
        "GET /v2/projects/{project_id}/endpoints/{endpoint_id}/deployments": "v2 endpoints",
        "GET /v2/projects/{project_id}/endpoints/{endpoint_id}/deployments/{deployment_id}":
            "v2 endpoints",
        "DELETE /v2/projects/{project_id}/endpoints/{endpoint_id}/deployments/"
        "{deployment_id}": "v2 endpoints",
        "PATCH /v2/projects/{project_id}/endpoints/{endpoint_id}": "v2 endpoints: SDK 3.x "
                                                                   "Endpoint type",
        "PATCH /v2/projects/{project_id}/endpoints/{endpoint_id}/deployments/"
        "{deployment_id}": "v2 endpoints: SDK 3.x EndpointDeployment type",
        "GET /v2/projects/{project_id}/models": "v2 models: SDK 3.x Model type",
        "GET /v2/projects/{project_id}/models/{model_id}": "v2 models: SDK 3.x Model type",
        "GET /v2/projects/{project_id}/configs": "v2 configs: SDK 3.x models.Config type",
    },
    "fireworks": {
        "POST /v1/chat/completions": "inference, outside the fine-tuning subset",
        "POST /v1/accounts/{account_id}/dpoJobs": "DPO jobs, outside the subset: the "
                                                  "fireworks-ai SDK's DpoJob type",
        "GET /v1/accounts/{account_id}/dpoJobs": "DPO jobs: SDK SyncCursorDpoJobs page",
        "GET /v1/accounts/{account_id}/dpoJobs/{name}": "DPO jobs: SDK DpoJob type",
        "POST /v1/accounts/{account_id}/dpoJobs/{name}": "DPO jobs: :cancel answers {} "
                                                         "(SDK object), :resume a DpoJob",
        "GET /v1/accounts/{account_id}/models/{model_id}": "Gateway REST reference (models)",
        "GET /v1/accounts/{account_id}/models": "Gateway REST reference (model list)",
        "POST /v1/accounts/{account_id}/deployments": "Gateway REST reference (deployments)",
        "GET /v1/accounts/{account_id}/deployments": "Gateway REST reference (deployments)",
        "GET /v1/accounts/{account_id}/deployments/{deployment_id}": "Gateway REST reference",
        "DELETE /v1/accounts/{account_id}/deployments/{deployment_id}": "Gateway REST reference",
        "POST /v1/accounts/{account_id}/deployments/{deployment_id}": "Gateway REST reference "
                                                                     "(:undelete, a Deployment)",
        "POST /v1/accounts/{account_id}/deployedModels": "Gateway REST reference (LoRA load)",
        "GET /v1/accounts/{account_id}/deployedModels": "Gateway REST reference",
        "GET /v1/accounts/{account_id}/deployedModels/{deployed_model_id}": "Gateway REST "
                                                                            "reference",
        "DELETE /v1/accounts/{account_id}/deployedModels/{deployed_model_id}": "Gateway REST "
                                                                               "reference",
    },
}


@cache
def _spec(provider: str) -> dict[str, Any]:
    spec: dict[str, Any] = _nullable_to_json_schema(
        yaml.safe_load((SPECS / FILES[provider]).read_text()))
    for patch in SPEC_LAGS.get(provider, []):
        patch(spec["components"]["schemas"])
    return spec


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    body = "".join("[^/:]+" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{body}$")


def spec_operations(provider: str) -> set[str]:
    """Every operation of the spec subset, as ``"METHOD /template"``."""
    return {f"{method.upper()} {template}"
            for template, ops in _spec(provider)["paths"].items() for method in ops
            if method in ("get", "post", "put", "patch", "delete")}


def spec_operation(provider: str, method: str, path: str) -> str | None:
    """The spec operation (``"METHOD /template"``) a request path hits, or ``None``."""
    spec = _spec(provider)
    rel = path[len(STRIP[provider]):] if path.startswith(STRIP[provider]) else path
    # Literal segments (``/models/limits``) win over templated ones (``/{id}``).
    for template in sorted(spec["paths"], key=lambda t: t.count("{")):
        if _template_regex(template).match(rel) and method.lower() in spec["paths"][template]:
            return f"{method.upper()} {template}"
    return None


def response_schema(provider: str, method: str, path: str, status: int) -> dict[str, Any] | None:
    """The schema the spec gives for this answer, or ``None`` when the spec lacks the route."""
    operation = spec_operation(provider, method, path)
    if operation is None:
        return None
    spec = _spec(provider)
    op = spec["paths"][operation.split(" ", 1)[1]][method.lower()]
    response = op.get("responses", {}).get(str(status))
    content = (response or {}).get("content", {}).get("application/json")
    if content is None:
        return None
    root = copy.deepcopy(content["schema"])
    root["components"] = spec["components"]
    return root


def _validator(provider: str, key: str, schema: dict[str, Any]) -> Any:
    # Building a validator walks the whole spec; one per schema keeps the checks cheap.
    if key not in _VALIDATORS:
        _VALIDATORS[key] = jsonschema.Draft202012Validator(schema)
    return _VALIDATORS[key]


def validate(provider: str, method: str, path: str, status: int, body: Any) -> bool:
    """Validate ``body``; True if a schema was found (and passed), False if none applies.

    Raises:
        jsonschema.ValidationError: when the body breaks the spec.
    """
    schema = response_schema(provider, method, path, status)
    if schema is None:
        return False
    key = f"{provider} {method} {path} {status}"
    _validator(provider, key, schema).validate(body)
    return True


def check_exchange(x: Any) -> str:
    """Hold one answer of the emulator to its spec.

    Returns:
        ``"spec"`` (validated against the route's schema), ``"error"`` (an error body,
        validated against the provider's error schema), ``"not-json"`` or ``"not-in-spec"``.

    Raises:
        jsonschema.ValidationError: the body breaks the spec.
        AssertionError: a JSON answer on a route neither the spec nor ``NOT_IN_SPEC`` covers.
    """
    if x.body is None:
        return "not-json"  # a redirect, an upload PUT, file bytes
    if x.status >= 400:
        name = ERROR_SCHEMAS[x.provider]
        schema = {"$ref": f"#/components/schemas/{name}",
                  "components": _spec(x.provider)["components"]}
        _validator(x.provider, f"{x.provider} error", schema).validate(x.body)
        return "error"
    if validate(x.provider, x.method, x.path, x.status, x.body):
        return "spec"
    route = f"{x.method} {x.route}"
    assert route in NOT_IN_SPEC[x.provider], (
        f"{x.provider} {route} answered JSON that no spec schema covers; add the route to "
        "the spec check or to NOT_IN_SPEC with where its shape comes from")
    return "not-in-spec"
