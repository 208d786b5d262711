"""Together AI's v2 endpoints and deployments, and chat, served under ``/together``.

Serverless LoRA is gone: a fine-tuned model is served by a dedicated endpoint with a
deployment (``DEPLOYMENT_STATE_PROVISIONING -> READY``), and chat names the endpoint.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from tuneport.emulator._core import ApiError, EmulatorState, json_body, make_route
from tuneport.emulator._together import MODELS, servable_models

__all__ = ["routes"]

P = "together"


def _deployment_view(state: EmulatorState, record: dict[str, Any]) -> dict[str, Any]:
    view = {k: v for k, v in record.items() if not k.startswith("_")}
    ready = state.now() >= record["_ready_at"]
    state_name = "DEPLOYMENT_STATE_READY" if ready else "DEPLOYMENT_STATE_PROVISIONING"
    view["status"] = {"state": state_name, "message": "" if ready else "Provisioning replicas",
                      "readyReplicas": 1 if ready else 0, "scheduledReplicas": 1}
    view["readyReplicas"] = 1 if ready else 0
    return view


def _endpoint_view(state: EmulatorState, record: dict[str, Any]) -> dict[str, Any]:
    view = {k: v for k, v in record.items() if not k.startswith("_")}
    deployments = [d for d in state.store.list(P, "deployment")
                   if d["endpointId"] == record["id"]]
    view["deployments"] = []
    for d in deployments:
        dv = _deployment_view(state, d)
        view["deployments"].append({
            "id": d["id"], "autoscaling": d["autoscaling"], "createdAt": d["createdAt"],
            "estimatedEffectiveTrafficShare": 1.0 / len(deployments), "model": d["model"],
            "modelId": d["modelId"], "name": d["name"], "state": dv["status"]["state"],
            "trafficMode": "TRAFFIC_MODE_LIVE", "hardware": d["hardware"],
            "readyReplicas": dv["readyReplicas"]})
    view["trafficSplit"] = [{"deploymentId": d["id"], "weight": 1.0 / len(deployments)}
                            for d in deployments]
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
    if any(e["name"] == name for e in state.store.list(P, "endpoint")):
        raise ApiError(409, f"An endpoint named {name} already exists", param="name")
    eid = state.store.new_id("endpoint-", length=20)
    now = state.iso(state.now())
    record = {"id": eid, "name": name, "projectId": project, "createdAt": now, "updatedAt": now,
              "endpointType": "ENDPOINT_TYPE_DEDICATED", "etag": eid[-8:],
              "visibility": body.get("visibility") or "VISIBILITY_PRIVATE"}
    state.store.put(P, "endpoint", eid, record)
    return _endpoint_view(state, record)


async def _retrieve_endpoint(state: EmulatorState, request: Request) -> Any:
    p = request.path_params
    return _endpoint_view(state, _get_endpoint(state, p["project_id"], p["endpoint_id"]))


async def _list_endpoints(state: EmulatorState, request: Request) -> Any:
    project = request.path_params["project_id"]
    return {"data": [_endpoint_view(state, e) for e in state.store.list(P, "endpoint")
                     if e["projectId"] == project]}


async def _delete_endpoint(state: EmulatorState, request: Request) -> Any:
    p = request.path_params
    record = _get_endpoint(state, p["project_id"], p["endpoint_id"])
    for d in state.store.list(P, "deployment"):
        if d["endpointId"] == record["id"]:
            state.store.delete(P, "deployment", d["id"])
    state.store.delete(P, "endpoint", record["id"])
    return {}


async def _create_deployment(state: EmulatorState, request: Request) -> Any:
    p = request.path_params
    endpoint = _get_endpoint(state, p["project_id"], p["endpoint_id"])
    body = await json_body(request)
    name = body.get("name")
    model = body.get("model") or body.get("model_id")
    if not isinstance(name, str) or not name:
        raise ApiError(400, "name is required", param="name")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "model is required", param="model")
    model_id = model.split("/models/", 1)[1].split("/revisions/")[0] if "/models/" in model \
        else model
    if model_id not in servable_models(state):
        raise ApiError(404, f"Model {model_id} not found or not ready to deploy", param="model")
    did = state.store.new_id("deployment-", length=20)
    now = state.now()
    record = {"id": did, "name": name, "endpointId": endpoint["id"],
              "projectId": p["project_id"], "model": model, "modelId": model_id,
              "modelRevisionId": "rev-1", "config": "", "configId": "",
              "hardware": "1x_nvidia_h100_80gb_sxm", "etag": did[-8:],
              "autoscaling": body.get("autoscaling") or {"minReplicas": 1, "maxReplicas": 1},
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
                     if d["endpointId"] == p["endpoint_id"]]}


async def _delete_deployment(state: EmulatorState, request: Request) -> Any:
    record = _get_deployment(state, request)
    state.store.delete(P, "deployment", record["id"])
    return {}


async def _chat(state: EmulatorState, request: Request) -> Any:
    from tuneport.emulator._chat import completion

    body = await json_body(request)
    model = body.get("model")
    endpoint = next((e for e in state.store.list(P, "endpoint") if e["name"] == model), None)
    if endpoint is None:
        if model in servable_models(state) and model not in MODELS:
            raise ApiError(400, f"Unable to access model {model}. Fine-tuned models are served "
                                "on dedicated endpoints: create an endpoint and deploy it.",
                           param="model", code="model_not_available")
        if model not in MODELS:
            raise ApiError(404, f"Unable to access model {model}. Please visit "
                                "https://api.together.ai/models to view the list of supported "
                                "models.", param="model", code="model_not_available")
        return completion(state, str(model), body)
    ready = [d for d in state.store.list(P, "deployment")
             if d["endpointId"] == endpoint["id"] and state.now() >= d["_ready_at"]]
    if not ready:
        raise ApiError(503, f"Endpoint {model} has no ready deployment yet; wait until its "
                            "deployment is DEPLOYMENT_STATE_READY.", code="endpoint_not_ready")
    return completion(state, str(model), body)


def routes(state: EmulatorState) -> list[Route]:
    """The routes, relative to ``/together``."""
    ep = "/v2/projects/{project_id}/endpoints"
    dep = ep + "/{endpoint_id}/deployments"
    table: list[tuple[str, list[str], Any]] = [
        (ep, ["POST"], _create_endpoint),
        (ep, ["GET"], _list_endpoints),
        (ep + "/{endpoint_id}", ["GET"], _retrieve_endpoint),
        (ep + "/{endpoint_id}", ["DELETE"], _delete_endpoint),
        (dep, ["POST"], _create_deployment),
        (dep, ["GET"], _list_deployments),
        (dep + "/{deployment_id}", ["GET"], _retrieve_deployment),
        (dep + "/{deployment_id}", ["DELETE"], _delete_deployment),
        ("/v1/chat/completions", ["POST"], _chat),
    ]
    return [make_route(state, P, path, methods, handler) for path, methods, handler in table]
