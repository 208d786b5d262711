"""What each provider lists about itself: models and (where published) serving prices.

The routes the official SDKs call to read a provider's own catalog, which
``tuneport catalog verify`` compares with tuneport's:

* OpenAI ``GET /v1/models`` (``client.models.list()``): model objects.
* Together ``GET /v2/public/inference-instance-types`` (``client.endpoints.hardware
  .list()``): instance types with ``priceCentsPerHour``; fine-tunable models and their
  limits are served by ``_together`` (``/v1/fine-tunes/models/supported`` and ``/limits``).
  Also ``GET /v3/whoami``, the key's identity, which the official CLI reads first.
* Fireworks ``GET /v1/accounts/fireworks/models`` (``client.models.list(account_id=
  "fireworks")``): base models with their tuning flags. Fireworks publishes no serving
  prices through its API.

The serving prices are the emulator's own (as Together listed them, dated below), not
tuneport's catalog, like every price the emulator answers with.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from tuneport.emulator._core import ApiError, EmulatorState, make_route

__all__ = ["fireworks_routes", "openai_routes", "together_routes"]

# Together dedicated endpoints, US cents per hour per replica (docs.together.ai dedicated
# endpoints pricing, 2026: 1x H100 80GB $3.99, H200 $5.49, B200 $9.95 per hour).
_TOGETHER_HARDWARE = (
    ("1x_nvidia_h100_80gb_sxm", "H100", 1, 80, 399),
    ("2x_nvidia_h100_80gb_sxm", "H100", 2, 80, 798),
    ("1x_nvidia_h200_140gb_sxm", "H200", 1, 141, 549),
    ("1x_nvidia_b200_180gb_sxm", "B200", 1, 180, 995),
)


async def _together_hardware(state: EmulatorState, request: Request) -> Any:
    return {"object": "list", "next_cursor": None, "data": [
        {"id": hid, "name": hid.replace("_", " "), "description": f"{count}x {gpu}",
         "gpuType": gpu, "gpuCount": count, "gpuMemoryGib": memory,
         "priceCentsPerHour": cents,
         "regions": [{"name": "us-central-1",
                      "headroom": {"relation": "RELATION_GTE", "value": 4}}]}
        for hid, gpu, count, memory, cents in _TOGETHER_HARDWARE]}


async def _together_whoami(state: EmulatorState, request: Request) -> Any:
    # The identity of a project API key (the SDK's WhoamiProjectAPIKey); the official CLI
    # asks for it before any endpoint command. Every key here belongs to one project.
    from tuneport.emulator._together_endpoints import PROJECT_SLUG

    project = request.headers.get("x-together-project-id") or "emulator"
    return {"type": "project_api_key", "api_key": {"id": "key_emulator"},
            "organization": {"id": "org_emulator", "name": "Emulator"},
            "project": {"id": project, "name": "Emulator project", "slug": PROJECT_SLUG}}


def together_routes(state: EmulatorState) -> list[Route]:
    """Together's listing routes, relative to ``/together``."""
    return [make_route(state, "together", "/v2/public/inference-instance-types", ["GET"],
                       _together_hardware),
            make_route(state, "together", "/v3/whoami", ["GET"], _together_whoami)]


async def _fireworks_models(state: EmulatorState, request: Request) -> Any:
    from tuneport.emulator._fireworks import BASE_MODELS

    account = request.path_params["account_id"]
    if account != "fireworks":
        raise ApiError(404, f"account {account} has no public model list here")
    models = [{"name": f"accounts/fireworks/models/{mid}", "displayName": mid,
               "kind": "HF_BASE_MODEL", "state": "READY", "tunable": True,
               "supportsLora": True, "supportsServerless": False,
               "baseModelDetails": {"parameterCount": str(size * 10**9)}}
              for mid, size in sorted(BASE_MODELS.items())]
    return {"models": models, "nextPageToken": "", "totalSize": len(models)}


def fireworks_routes(state: EmulatorState) -> list[Route]:
    """Fireworks' listing routes, relative to ``/fireworks``."""
    return [make_route(state, "fireworks", "/v1/accounts/{account_id}/models", ["GET"],
                       _fireworks_models)]


async def _openai_models(state: EmulatorState, request: Request) -> Any:
    from tuneport.emulator._openai import TRAINABLE_MODELS

    return {"object": "list", "data": [
        {"id": mid, "object": "model", "created": 1_700_000_000, "owned_by": "system"}
        for mid in TRAINABLE_MODELS]}


def openai_routes(state: EmulatorState) -> list[Route]:
    """OpenAI's listing routes, relative to ``/openai/v1``."""
    return [make_route(state, "openai", "/models", ["GET"], _openai_models)]
