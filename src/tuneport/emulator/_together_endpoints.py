"""Together AI's v2 endpoints, deployments, models and configs, and chat, under ``/together``.

Serverless LoRA is gone: a fine-tuned model is served by a dedicated endpoint with a
deployment (``DEPLOYMENT_STATE_PROVISIONING -> READY``), and chat names the endpoint.
What the real service refuses, this refuses too (the SDK's types and the official CLI's
flow, ``together/lib/cli/api/endpoints``, are the reference):

- names come back project-qualified (``<project_slug>/<endpoint_name>``, deployments
  ``<project_slug>/<endpoint_name>/<deployment_name>``); a deployment name has no ``/``;
- a deployment's ``model`` is a resource path ``projects/{p}/models/{m}[/revisions/{r}]``
  (a job's output *name* is refused) and comes with a compatible ``config``;
- an endpoint whose traffic split is empty is unrouted: chat to it is refused;
- a deployment in the live traffic split, or still running, cannot be deleted, and an
  endpoint with deployments cannot be deleted (scale to zero, unroute, delete, as
  ``tg endpoints rm --force`` does).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from tuneport.emulator import _lifecycle as life
from tuneport.emulator._core import ApiError, EmulatorState, json_body, make_route
from tuneport.emulator._together import MODELS, USER

__all__ = ["PROJECT_SLUG", "PUBLIC_PROJECT", "model_objects", "routes"]

P = "together"
#: Every project's slug here (the real one is chosen at project creation).
PROJECT_SLUG = USER
#: The project that owns the public base models and their configs.
PUBLIC_PROJECT = "proj_together_public"
MODEL_PATH = re.compile(r"^projects/([^/]+)/models/([^/]+)(?:/revisions/([^/]+))?$")
CONFIG_PATH = re.compile(r"^projects/([^/]+)/configs/([^/]+)$")
_HARDWARE = "1x_nvidia_h100_80gb_sxm"


def _hid(prefix: str, text: str, n: int = 20) -> str:
    return prefix + hashlib.sha256(text.encode()).hexdigest()[:n]


def _base_id(model: str) -> str:
    return _hid("ml_pub_", model, 12)


def _config_id(model: str) -> str:
    return _hid("cr_", model, 16)


def model_objects(job: dict[str, Any]) -> dict[str, Any]:
    """The model-registry fields a completed job carries (``model_object_*``; LoRA jobs
    also ``adapter_object_*``): the final weights are the deploy target."""
    name = str(job["model_output_name"]).rsplit("/", 1)[-1]
    lora = (job.get("training_type") or {}).get("type") == "Lora"
    out = {"model_object_id": _hid("ml_", "model:" + job["id"]),
           "model_object_name": f"{PROJECT_SLUG}/{name}",
           "model_object_revision_id": _hid("rv_", "model:" + job["id"], 12)}
    if lora:
        out.update(adapter_object_id=_hid("ml_", "adapter:" + job["id"]),
                   adapter_object_name=f"{PROJECT_SLUG}/{name}-adapter",
                   adapter_object_revision_id=_hid("rv_", "adapter:" + job["id"], 12))
    return out


def _registry(state: EmulatorState, project: str) -> dict[str, dict[str, Any]]:
    """Model objects by id: the public bases and the output of every completed job."""
    found: dict[str, dict[str, Any]] = {}
    for base in MODELS:
        mid = _base_id(base)
        found[mid] = {"id": mid, "name": base, "organizationId": "org_together",
                      "projectId": PUBLIC_PROJECT, "visibility": "VISIBILITY_INTERNAL",
                      "weights": {"type": "WEIGHTS_TYPE_DEFAULT", "architecture": "llama"},
                      "description": f"{base} (public base model)"}
    for job in state.store.list(P, "job"):
        if life.snapshot(job["_emu"], state.now()).phase != "succeeded":
            continue
        objects = model_objects(job)
        base = str(job["model"])
        lora = "adapter_object_id" in objects
        for kind in ("model", "adapter") if lora else ("model",):
            mid = objects[f"{kind}_object_id"]
            found[mid] = {
                "id": mid, "name": objects[f"{kind}_object_name"],
                "organizationId": "org_emulator", "projectId": project,
                "visibility": "VISIBILITY_PRIVATE",
                "weights": {"type": "WEIGHTS_TYPE_ADAPTER" if lora else "WEIGHTS_TYPE_DEFAULT"},
                "baseModel": f"projects/{PUBLIC_PROJECT}/models/{_base_id(base)}",
                "baseModelId": _base_id(base), "_revision": objects[f"{kind}_object_revision_id"],
                "_base": base}
    return found


def _public_view(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def _gpu_counts(base: str) -> tuple[int, ...]:
    # A 70B model has a config per GPU count, as the real catalog does: the official CLI
    # then asks which one (or fails non-interactively), and so does tuneport.
    return (2, 4) if MODELS[base][0] >= 70 else (1,)


def _configs(base: str) -> list[dict[str, Any]]:
    mid = _base_id(base)
    return [{"id": _config_id(f"{base}:{n}" if n > 1 else base), "projectId": PUBLIC_PROJECT,
             "referenceModel": f"projects/{PUBLIC_PROJECT}/models/{mid}",
             "referenceModelId": mid,
             "selectors": [{"key": "gpu_type", "value": "nvidia_h100_80gb_sxm"},
                           {"key": "gpu_count", "value": str(n)},
                           {"key": "adapter_mode", "value": "dynamic"}],
             "certifications": []} for n in _gpu_counts(base)]


def _qualified(name: str) -> str:
    return f"{PROJECT_SLUG}/{name}"


def _bare(name: str, what: str) -> str:
    """A bare name from a bare or project-qualified one (the slug must be this project's)."""
    slug, sep, rest = name.rpartition("/")
    if sep and slug != PROJECT_SLUG:
        raise ApiError(400, f"{what} {name!r}: project slug {slug!r} does not match the project "
                            "in the request path", param="name")
    return rest


def _stopped(record: dict[str, Any]) -> bool:
    scaling = record["autoscaling"]
    return int(scaling.get("maxReplicas", scaling.get("minReplicas", 1)) or 0) == 0


def _deployment_state(state: EmulatorState, record: dict[str, Any]) -> tuple[str, int]:
    if _stopped(record):
        return "DEPLOYMENT_STATE_STOPPED", 0
    if state.now() >= record["_ready_at"]:
        return "DEPLOYMENT_STATE_READY", int(record["autoscaling"].get("minReplicas") or 1)
    return "DEPLOYMENT_STATE_PROVISIONING", 0


_MESSAGES = {"DEPLOYMENT_STATE_READY": "", "DEPLOYMENT_STATE_STOPPED": "Scaled to zero",
             "DEPLOYMENT_STATE_PROVISIONING": "Provisioning replicas"}


def _deployment_view(state: EmulatorState, record: dict[str, Any]) -> dict[str, Any]:
    view = _public_view(record)
    name, ready = _deployment_state(state, record)
    view["status"] = {"state": name, "message": _MESSAGES[name], "readyReplicas": ready,
                      "scheduledReplicas": 0 if name == "DEPLOYMENT_STATE_STOPPED" else 1}
    endpoint = state.store.get(P, "endpoint", record["endpointId"])
    bare = endpoint["name"] if endpoint else "?"
    view["name"] = _qualified(f"{bare}/{record['name']}")
    view["estimatedEffectiveTrafficShare"] = _share(state, endpoint, record["id"])
    return view


def _share(state: EmulatorState, endpoint: dict[str, Any] | None, did: str) -> float:
    if endpoint is None:
        return 0.0
    capacity: dict[str, float] = {}
    for entry in endpoint["_traffic"]:
        dep = state.store.get(P, "deployment", entry["deploymentId"])
        if dep is not None:
            capacity[dep["id"]] = float(entry["weight"]) * _deployment_state(state, dep)[1]
    total = sum(capacity.values())
    return capacity.get(did, 0.0) / total if total else 0.0


def _endpoint_view(state: EmulatorState, record: dict[str, Any]) -> dict[str, Any]:
    view = _public_view(record)
    view["name"] = _qualified(record["name"])
    view["trafficSplit"] = [dict(e) for e in record["_traffic"]]
    view["deployments"] = []
    for d in state.store.list(P, "deployment"):
        if d["endpointId"] != record["id"]:
            continue
        dv = _deployment_view(state, d)
        view["deployments"].append({
            "id": d["id"], "autoscaling": d["autoscaling"], "createdAt": d["createdAt"],
            "estimatedEffectiveTrafficShare": dv["estimatedEffectiveTrafficShare"],
            "model": d["model"], "modelId": d["modelId"], "name": dv["name"],
            "state": dv["status"]["state"], "trafficMode": "TRAFFIC_MODE_LIVE",
            "hardware": d["hardware"], "readyReplicas": dv["status"]["readyReplicas"],
            "desiredReplicas": dv["status"]["readyReplicas"]})
    return view


def _get_endpoint(state: EmulatorState, project: str, eid: str) -> dict[str, Any]:
    record = state.store.get(P, "endpoint", eid)
    if record is None or record["projectId"] != project:
        raise ApiError(404, f"Endpoint {eid} not found in project {project}", param="id")
    return record


async def _create_endpoint(state: EmulatorState, request: Request) -> Any:
    project = request.path_params["project_id"]
    body = await json_body(request)
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise ApiError(400, "name is required", param="name")
    name = _bare(name, "endpoint name")
    if any(e["name"] == name and e["projectId"] == project
           for e in state.store.list(P, "endpoint")):
        raise ApiError(409, f"An endpoint named {_qualified(name)} already exists",
                       param="name")
    eid = state.store.new_id("ep_", length=20)
    now = state.iso(state.now())
    record = {"id": eid, "name": name, "projectId": project, "createdAt": now, "updatedAt": now,
              "endpointType": "ENDPOINT_TYPE_DEDICATED", "etag": eid[-8:],
              "visibility": body.get("visibility") or "VISIBILITY_PRIVATE", "_traffic": []}
    state.store.put(P, "endpoint", eid, record)
    return _endpoint_view(state, record)


async def _retrieve_endpoint(state: EmulatorState, request: Request) -> Any:
    p = request.path_params
    return _endpoint_view(state, _get_endpoint(state, p["project_id"], p["endpoint_id"]))


_NAME_FILTER = re.compile(r'^name\s*=\s*"([^"]*)"$')


async def _list_endpoints(state: EmulatorState, request: Request) -> Any:
    project = request.path_params["project_id"]
    items = [e for e in state.store.list(P, "endpoint") if e["projectId"] == project]
    text = request.query_params.get("filter")
    if text:
        match = _NAME_FILTER.match(text.strip())
        if match is None:
            raise ApiError(400, f"unsupported filter {text!r}", param="filter")
        wanted = match.group(1).rsplit("/", 1)[-1]
        items = [e for e in items if e["name"] == wanted]
    return {"data": [_endpoint_view(state, e) for e in items], "next_cursor": None}


def _check_etag(record: dict[str, Any], body_or_query: Any) -> None:
    etag = body_or_query.get("etag")
    if etag and etag != record["etag"]:
        raise ApiError(409, f"etag {etag!r} does not match the current version "
                            f"{record['etag']!r}; read it again", param="etag")


def _bump(state: EmulatorState, record: dict[str, Any]) -> None:
    record["etag"] = state.store.new_id("", length=8)
    record["updatedAt"] = state.iso(state.now())


async def _update_endpoint(state: EmulatorState, request: Request) -> Any:
    p = request.path_params
    record = _get_endpoint(state, p["project_id"], p["endpoint_id"])
    body = await json_body(request)
    _check_etag(record, body)
    mask = {m.strip() for m in (request.query_params.get("updateMask") or "").split(",")
            if m.strip()}
    if "trafficSplit" in body and (not mask or "trafficSplit" in mask):
        split = body["trafficSplit"]
        if not isinstance(split, list):
            raise ApiError(400, "trafficSplit must be a list", param="trafficSplit")
        entries = []
        for entry in split:
            did = entry.get("deploymentId") if isinstance(entry, dict) else None
            weight = entry.get("weight") if isinstance(entry, dict) else None
            dep = state.store.get(P, "deployment", str(did))
            if dep is None or dep["endpointId"] != record["id"]:
                raise ApiError(400, f"trafficSplit names {did!r}, which is not a deployment "
                                    "of this endpoint", param="trafficSplit")
            if not isinstance(weight, int | float) or weight < 0:
                raise ApiError(400, "traffic weights must be non-negative numbers",
                               param="trafficSplit")
            if weight > 0:
                entries.append({"deploymentId": str(did), "weight": float(weight)})
        record["_traffic"] = entries
    if "name" in body and (not mask or "name" in mask):
        record["name"] = _bare(str(body["name"]), "endpoint name")
    _bump(state, record)
    state.store.put(P, "endpoint", record["id"], record)
    return _endpoint_view(state, record)


async def _delete_endpoint(state: EmulatorState, request: Request) -> Any:
    p = request.path_params
    record = _get_endpoint(state, p["project_id"], p["endpoint_id"])
    _check_etag(record, request.query_params)
    if any(d["endpointId"] == record["id"] for d in state.store.list(P, "deployment")):
        raise ApiError(400, f"Endpoint {record['id']} still has deployments; delete them "
                            "first", code="FAILED_PRECONDITION")
    state.store.delete(P, "endpoint", record["id"])
    return {}


def _resolve_config(body: dict[str, Any], base: str) -> str:
    config = body.get("config") or body.get("config_id") or body.get("configId")
    if not isinstance(config, str) or not config:
        raise ApiError(400, "config is required: a config revision "
                            "projects/{projectId}/configs/{configRevisionId} compatible with "
                            "the model", param="config")
    path = CONFIG_PATH.match(config)
    cid = path.group(2) if path is not None else config
    if cid not in {c["id"] for c in _configs(base)}:
        raise ApiError(400, f"Config {config} is not compatible with the model",
                       param="config")
    return cid


async def _create_deployment(state: EmulatorState, request: Request) -> Any:
    p = request.path_params
    endpoint = _get_endpoint(state, p["project_id"], p["endpoint_id"])
    body = await json_body(request)
    name = body.get("name")
    if not isinstance(name, str) or not name or "/" in name:
        raise ApiError(400, "name is required and may not contain '/' (it is qualified as "
                            "<project_slug>/<endpoint_name>/<deployment_name>)", param="name")
    model = body.get("model")
    match = MODEL_PATH.match(model) if isinstance(model, str) else None
    if match is None:
        raise ApiError(400, f"model must be a resource name "
                            f"projects/{{projectId}}/models/{{modelId}}[/revisions/{{revisionId}}],"
                            f" got {model!r}", param="model")
    registry = _registry(state, p["project_id"])
    found = registry.get(match.group(2))
    if found is None or found["projectId"] != match.group(1):
        raise ApiError(404, f"Model {model} not found", param="model")
    if match.group(3) is not None and match.group(3) != found.get("_revision", match.group(3)):
        raise ApiError(404, f"Revision {match.group(3)} of {model} not found", param="model")
    base = str(found.get("_base") or found["name"])
    config_id = _resolve_config(body, base)
    scaling = body.get("autoscaling")
    if not isinstance(scaling, dict):
        raise ApiError(400, "autoscaling is required", param="autoscaling")
    if any(d["endpointId"] == endpoint["id"] and d["name"] == name
           for d in state.store.list(P, "deployment")):
        raise ApiError(409, f"A deployment named {name} already exists on this endpoint",
                       param="name")
    revision = match.group(3) or str(found.get("_revision") or "rv_public")
    did = state.store.new_id("dep_", length=20)
    now = state.now()
    record = {"id": did, "name": name, "endpointId": endpoint["id"],
              "projectId": p["project_id"],
              "model": f"projects/{match.group(1)}/models/{found['id']}/revisions/{revision}",
              "modelId": found["id"], "modelRevisionId": revision,
              "config": f"projects/{PUBLIC_PROJECT}/configs/{config_id}", "configId": config_id,
              "hardware": _HARDWARE, "etag": did[-8:],
              "autoscaling": {"minReplicas": int(scaling.get("minReplicas") or 0),
                              "maxReplicas": int(scaling.get("maxReplicas")
                                                 or scaling.get("minReplicas") or 0)},
              "trafficMode": "TRAFFIC_MODE_LIVE", "createdAt": state.iso(now),
              "updatedAt": state.iso(now), "desiredReplicas": 1,
              "_ready_at": now + state.config.deploy_seconds}
    state.store.put(P, "deployment", did, record)
    return _deployment_view(state, record)


def _get_deployment(state: EmulatorState, request: Request) -> dict[str, Any]:
    p = request.path_params
    _get_endpoint(state, p["project_id"], p["endpoint_id"])
    record = state.store.get(P, "deployment", p["deployment_id"])
    if record is None or record["endpointId"] != p["endpoint_id"]:
        raise ApiError(404, f"Deployment {p['deployment_id']} not found", param="id")
    return record


async def _retrieve_deployment(state: EmulatorState, request: Request) -> Any:
    return _deployment_view(state, _get_deployment(state, request))


async def _list_deployments(state: EmulatorState, request: Request) -> Any:
    p = request.path_params
    _get_endpoint(state, p["project_id"], p["endpoint_id"])
    return {"data": [_deployment_view(state, d) for d in state.store.list(P, "deployment")
                     if d["endpointId"] == p["endpoint_id"]], "next_cursor": None}


async def _update_deployment(state: EmulatorState, request: Request) -> Any:
    record = _get_deployment(state, request)
    body = await json_body(request)
    _check_etag(record, body)
    scaling = body.get("autoscaling")
    if isinstance(scaling, dict):
        was_stopped = _stopped(record)
        low = int(scaling.get("minReplicas", record["autoscaling"]["minReplicas"]))
        high = int(scaling.get("maxReplicas", max(low, record["autoscaling"]["maxReplicas"])))
        if high < low:
            raise ApiError(400, "maxReplicas must be at least minReplicas", param="autoscaling")
        record["autoscaling"] = {"minReplicas": low, "maxReplicas": high}
        if was_stopped and high > 0:  # starting again provisions again
            record["_ready_at"] = state.now() + state.config.deploy_seconds
    _bump(state, record)
    state.store.put(P, "deployment", record["id"], record)
    return _deployment_view(state, record)


async def _delete_deployment(state: EmulatorState, request: Request) -> Any:
    record = _get_deployment(state, request)
    _check_etag(record, request.query_params)
    endpoint = state.store.get(P, "endpoint", record["endpointId"])
    if endpoint is not None and any(e["deploymentId"] == record["id"]
                                    for e in endpoint["_traffic"]):
        raise ApiError(400, f"Deployment {record['id']} is in the endpoint's live traffic "
                            "split; remove it from live traffic first",
                       code="FAILED_PRECONDITION")
    if not _stopped(record):
        raise ApiError(400, f"Deployment {record['id']} must be stopped before it can be "
                            "deleted: set minReplicas and maxReplicas to 0",
                       code="FAILED_PRECONDITION")
    state.store.delete(P, "deployment", record["id"])
    return {}


async def _retrieve_model(state: EmulatorState, request: Request) -> Any:
    p = request.path_params
    found = _registry(state, p["project_id"]).get(p["model_id"])
    if found is None or found["projectId"] not in (p["project_id"], PUBLIC_PROJECT):
        raise ApiError(404, f"Model {p['model_id']} not found", param="id")
    return _public_view(found)


async def _list_models(state: EmulatorState, request: Request) -> Any:
    project = request.path_params["project_id"]
    return {"data": [_public_view(m) for m in _registry(state, project).values()
                     if m["projectId"] == project], "next_cursor": None}


async def _list_configs(state: EmulatorState, request: Request) -> Any:
    q = request.query_params
    reference = q.get("referenceModelId") or ""
    path = MODEL_PATH.match(q.get("referenceModel") or "")
    if path is not None:
        if reference and reference != path.group(2):
            raise ApiError(400, "referenceModel and referenceModelId must agree")
        reference = path.group(2)
    if not reference:
        raise ApiError(400, "referenceModel or referenceModelId is required")
    return {"data": [c for base in MODELS if _base_id(base) == reference
                     for c in _configs(base)],
            "next_cursor": None}


def _routed(state: EmulatorState, endpoint: dict[str, Any]) -> list[dict[str, Any]]:
    """Deployments that take live traffic now: routed with weight, and ready."""
    out = []
    for entry in endpoint["_traffic"]:
        dep = state.store.get(P, "deployment", entry["deploymentId"])
        if dep is not None and _deployment_state(state, dep)[1] > 0:
            out.append(dep)
    return out


async def _chat(state: EmulatorState, request: Request) -> Any:
    from tuneport.emulator._chat import completion

    body = await json_body(request)
    model = str(body.get("model") or "")
    slug, _, bare = model.partition("/")
    endpoint = None
    if slug == PROJECT_SLUG:
        endpoint = next((e for e in state.store.list(P, "endpoint") if e["name"] == bare), None)
    if endpoint is None:
        outputs = {str(j["model_output_name"]) for j in state.store.list(P, "job")}
        if model in outputs:
            raise ApiError(400, f"Unable to access model {model}. Fine-tuned models are served "
                                "on dedicated endpoints: create an endpoint and deploy it.",
                           param="model", code="model_not_available")
        if model not in MODELS:
            raise ApiError(404, f"Unable to access model {model}. Please visit "
                                "https://api.together.ai/models to view the list of supported "
                                "models.", param="model", code="model_not_available")
        return completion(state, model, body)
    if not endpoint["_traffic"]:
        raise ApiError(400, f"Endpoint {model} is unrouted: its traffic split is empty. Assign "
                            "traffic to a deployment first.", code="endpoint_unrouted")
    if not _routed(state, endpoint):
        raise ApiError(503, f"Endpoint {model} has no ready routed deployment yet; wait until "
                            "its deployment is DEPLOYMENT_STATE_READY.",
                       code="endpoint_not_ready")
    return completion(state, model, body)


def routes(state: EmulatorState) -> list[Route]:
    """The routes, relative to ``/together``."""
    proj = "/v2/projects/{project_id}"
    ep = proj + "/endpoints"
    dep = ep + "/{endpoint_id}/deployments"
    table: list[tuple[str, list[str], Any]] = [
        (ep, ["POST"], _create_endpoint),
        (ep, ["GET"], _list_endpoints),
        (ep + "/{endpoint_id}", ["GET"], _retrieve_endpoint),
        (ep + "/{endpoint_id}", ["PATCH"], _update_endpoint),
        (ep + "/{endpoint_id}", ["DELETE"], _delete_endpoint),
        (dep, ["POST"], _create_deployment),
        (dep, ["GET"], _list_deployments),
        (dep + "/{deployment_id}", ["GET"], _retrieve_deployment),
        (dep + "/{deployment_id}", ["PATCH"], _update_deployment),
        (dep + "/{deployment_id}", ["DELETE"], _delete_deployment),
        (proj + "/models", ["GET"], _list_models),
        (proj + "/models/{model_id}", ["GET"], _retrieve_model),
        (proj + "/configs", ["GET"], _list_configs),
        ("/v1/chat/completions", ["POST"], _chat),
    ]
    # Creating a deployment starts billing, like a job: its answer may be lost ("drop").
    return [make_route(state, P, path, methods, handler,
                       creates_job=handler is _create_deployment)
            for path, methods, handler in table]
