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


def _nullable_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable: true`` becomes JSON Schema's ``null`` type."""
    if isinstance(node, list):
        return [_nullable_to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable_to_json_schema(v) for k, v in node.items()}
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


def _allow_paused(schemas: dict[str, Any]) -> None:
    # OpenAI's status enum lacks "paused", yet the spec's own /pause example returns it and
    # the SDK accepts it. The emulator follows the example.
    schemas["FineTuningJob"]["properties"]["status"]["enum"].append("paused")


# Where a spec is older than (or contradicts) the SDK, and which side the emulator follows.
SPEC_LAGS = {"together": [_allow_auto_train_on_inputs, _lr_scheduler_args_any_of],
             "openai": [_allow_paused]}


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


def response_schema(provider: str, method: str, path: str, status: int) -> dict[str, Any] | None:
    """The schema the spec gives for this answer, or ``None`` when the spec lacks the route."""
    spec = _spec(provider)
    rel = path[len(STRIP[provider]):] if path.startswith(STRIP[provider]) else path
    # Literal segments (``/models/limits``) win over templated ones (``/{id}``).
    candidates = sorted(spec["paths"], key=lambda t: t.count("{"))
    for template in candidates:
        if _template_regex(template).match(rel):
            op = spec["paths"][template].get(method.lower())
            if op is None:
                continue
            response = op.get("responses", {}).get(str(status))
            content = (response or {}).get("content", {}).get("application/json")
            if content is None:
                return None
            root = copy.deepcopy(content["schema"])
            root["components"] = spec["components"]
            return root
    return None


def validate(provider: str, method: str, path: str, status: int, body: Any) -> bool:
    """Validate ``body``; True if a schema was found (and passed), False if none applies.

    Raises:
        jsonschema.ValidationError: when the body breaks the spec.
    """
    schema = response_schema(provider, method, path, status)
    if schema is None:
        return False
    jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)
    return True
