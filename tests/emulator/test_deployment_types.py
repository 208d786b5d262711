"""Every deployment answer the emulator gives parses *strictly* with the official SDK's type.

The SDKs build their response models leniently (a missing field is no error), so going
through the SDK proves little; here each JSON body the emulator sent during a whole
deploy → chat → undeploy of tuneport's adapters is validated with ``model_validate`` of
the type the SDK declares for that route (together 3.x ``Endpoint``,
``EndpointDeployment``, ``Model``, ``models.Config``; fireworks ``Deployment``).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

together = pytest.importorskip("together")
fireworks = pytest.importorskip("fireworks")

from together.types import Endpoint, EndpointDeployment, Model  # noqa: E402
from together.types.models import Config  # noqa: E402

from tuneport._models import EndpointState  # noqa: E402
from tuneport.client.client import Client  # noqa: E402
from tuneport.emulator import Emulator  # noqa: E402

from .conftest import JOB_SECONDS  # noqa: E402

_V2 = "/together/v2/projects/[^/]+"
TOGETHER_TYPES: list[tuple[str, str, Any, bool]] = [  # method, path, type, listed in "data"
    ("GET", _V2 + "/endpoints", Endpoint, True),
    ("*", _V2 + "/endpoints/[^/]+", Endpoint, False),
    ("POST", _V2 + "/endpoints", Endpoint, False),
    ("GET", _V2 + "/endpoints/[^/]+/deployments", EndpointDeployment, True),
    ("POST", _V2 + "/endpoints/[^/]+/deployments", EndpointDeployment, False),
    ("*", _V2 + "/endpoints/[^/]+/deployments/[^/]+", EndpointDeployment, False),
    ("GET", _V2 + "/models", Model, True),
    ("GET", _V2 + "/models/[^/]+", Model, False),
    ("GET", _V2 + "/configs", Config, True),
]


def _type_for(method: str, path: str) -> tuple[Any, bool] | None:
    for want, pattern, kind, listed in TOGETHER_TYPES:
        if re.fullmatch(pattern, path) and (want == "*" or want == method):
            return kind, listed
    return None


def _life_cycle(emu: Emulator, monkeypatch: pytest.MonkeyPatch, provider: str) -> None:
    for name, value in emu.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TOGETHER_PROJECT_ID", "proj-types")
    rows = [{"messages": [{"role": "user", "content": f"q{i}"},
                          {"role": "assistant", "content": f"a{i}"}]} for i in range(12)]
    with Client(provider=provider) as client:
        client._sleep = lambda seconds: emu.advance(max(seconds, 1.0))
        job = client.fine_tune(rows, model="llama-3.1-8b-instruct", epochs=1)
        emu.advance(JOB_SECONDS * 2)
        done = client.wait(job, poll=1)
        endpoint = client.deploy(done, wait=True, poll=1)
        assert endpoint.state is EndpointState.READY
        assert endpoint.chat([{"role": "user", "content": "hi"}])
        client.endpoints()
        assert client.undeploy(done).state is EndpointState.NOT_DEPLOYED


def test_together_answers_parse_with_the_sdk_types(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch,
) -> None:
    _life_cycle(emu, monkeypatch, "together")
    checked: dict[str, int] = {}
    for x in emu.exchanges:
        if x.provider != "together" or x.status != 200 or not isinstance(x.body, dict):
            continue
        found = _type_for(x.method, x.path)
        if found is None or (x.method == "DELETE"):
            continue
        kind, listed = found
        items = x.body["data"] if listed else [x.body]
        for item in items:
            kind.model_validate(item)  # strict: every required field, every type
        checked[kind.__name__] = checked.get(kind.__name__, 0) + len(items)
    assert set(checked) == {"Endpoint", "EndpointDeployment", "Model", "Config"}, checked


def test_fireworks_deployments_parse_with_the_sdk_type(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch,
) -> None:
    _life_cycle(emu, monkeypatch, "fireworks")
    seen = 0
    for x in emu.exchanges:
        if x.provider != "fireworks" or x.status != 200 or x.method == "DELETE":
            continue
        if re.search(r"/deployments(/[^/]+)?$", x.path):
            items = x.body.get("deployments", [x.body]) if isinstance(x.body, dict) else []
            for item in items:
                fireworks.types.Deployment.model_validate(item)
                seen += 1
    assert seen >= 2
