"""Every exception class of the three official SDKs maps to a tuneport error.

The classes are enumerated from the installed SDKs (their top-level exports and their
``_exceptions`` module), so a class added by a new SDK release is a new case here: it fails
until it has a constructor below and an expected tuneport class. The HTTP status each status
class stands for comes from the SDK client's own ``_make_status_error``, not from us.
"""

from __future__ import annotations

import importlib
import inspect
import runpy
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tuneport import _exceptions as tp
from tuneport.providers import _hosted

SDKS = {"openai": "openai", "together": "together", "fireworks": "fireworks"}
KEY = "sk-SENTINELKEY0123456789abcdef"
WANDB = "SENTINELWANDB0123456789abcdef"
REQUEST_ID = "req_abc123XYZ"
ADVICE_WORDS = ("try", "check", "fix", "use", "raise", "upgrade", "give", "reconnect",
                "send", "shorten", "change", "quote")

# What each SDK class name must become (every public exception name of the three SDKs).
EXPECTED: dict[str, type[tp.ProviderError]] = {
    "APIStatusError": tp.ProviderError,
    "BadRequestError": tp.BadRequestError,
    "UnprocessableEntityError": tp.BadRequestError,
    "AuthenticationError": tp.AuthenticationError,
    "OAuthError": tp.AuthenticationError,
    "PermissionDeniedError": tp.AuthenticationError,
    "NotFoundError": tp.NotFoundError,
    "ConflictError": tp.ConflictError,
    "RateLimitError": tp.RateLimitError,
    "InternalServerError": tp.ServerError,
    "APIConnectionError": tp.TransportError,
    "APITimeoutError": tp.TransportError,
    "APIError": tp.ProviderError,
    "APIResponseValidationError": tp.ProviderError,
    "OpenAIError": tp.ProviderError,
    "TogetherError": tp.ProviderError,
    "FireworksError": tp.ProviderError,
    "LengthFinishReasonError": tp.ProviderError,
    "ContentFilterFinishReasonError": tp.ProviderError,
    "InvalidWebhookSignatureError": tp.ProviderError,
    "SubjectTokenProviderError": tp.ProviderError,
    "WebSocketConnectionClosedError": tp.ProviderError,
    "WebSocketQueueFullError": tp.ProviderError,
    "DownloadError": tp.ProviderError,
    "FileTypeError": tp.ProviderError,
}


def sdk_classes(sdk: ModuleType) -> list[type[BaseException]]:
    """The SDK's public exception classes: top-level exports plus its ``_exceptions`` module."""
    found: dict[str, type[BaseException]] = {}
    for module in (sdk, importlib.import_module(f"{sdk.__name__}._exceptions")):
        for name, obj in list(vars(module).items()):
            if (inspect.isclass(obj) and issubclass(obj, BaseException)
                    and not name.startswith("_")
                    and obj.__module__.split(".")[0] == sdk.__name__):
                found[name] = obj
    return [found[n] for n in sorted(found)]


CASES = [(provider, cls) for provider, mod in SDKS.items()
         for cls in sdk_classes(importlib.import_module(mod))]


def http_module(sdk: ModuleType) -> Any:
    exceptions = importlib.import_module(f"{sdk.__name__}._exceptions")
    return getattr(exceptions, "httpx2", None) or exceptions.httpx


def sdk_client(provider: str, sdk: ModuleType) -> Any:
    base = "http://127.0.0.1:9/v1"
    if provider == "openai":
        return sdk.OpenAI(api_key=KEY, base_url=base)
    if provider == "together":
        return sdk.Together(api_key=KEY, base_url=base)
    return sdk.Fireworks(api_key=KEY, base_url=base)


def status_for(provider: str, sdk: ModuleType, cls: type[BaseException]) -> int:
    """The status the SDK's own client turns into ``cls`` (or into its nearest parent)."""
    httpx = http_module(sdk)
    client = sdk_client(provider, sdk)
    request = httpx.Request("GET", "http://127.0.0.1:9/v1/x")
    made: dict[type, int] = {}
    for status in (*range(400, 430), 500, 502, 503, 418):
        err = client._make_status_error(
            "m", body={}, response=httpx.Response(status, request=request))
        made.setdefault(type(err), status)
    client.close()
    for klass in cls.__mro__:
        if klass in made:
            return made[klass]
    raise AssertionError(f"{cls} is no status class")


def build(provider: str, sdk: ModuleType,
          cls: type[BaseException]) -> tuple[BaseException, int | None]:
    """An instance of ``cls`` as the SDK would raise it, carrying secrets to be scrubbed."""
    httpx = http_module(sdk)
    request = httpx.Request(
        "POST", "http://127.0.0.1:9/v1/fine_tuning/jobs",
        headers={"Authorization": f"Bearer {KEY}", "x-request-id": "client-side"},
        json={"model": "m", "wandb_api_key": WANDB},
    )
    body = {"error": {"message": f"bad key Bearer {KEY} and {WANDB}", "code": "oops"}}
    headers = {"x-request-id": REQUEST_ID}
    names = {c.__name__ for c in cls.__mro__}
    if "APIStatusError" in names:
        status = status_for(provider, sdk, cls)
        response = httpx.Response(status, headers=headers, json=body, request=request)
        if "response" in inspect.signature(cls.__init__).parameters and \
                "message" not in inspect.signature(cls.__init__).parameters:
            return cls(response=response, body=body["error"]), status  # type: ignore[call-arg]
        return cls(f"Error code: {status} - {body}", response=response,  # type: ignore[call-arg]
                   body=body["error"]), status
    if "APIResponseValidationError" in names:
        response = httpx.Response(200, headers=headers, json={"x": KEY}, request=request)
        return cls(response, {"x": KEY}), 200
    if "APITimeoutError" in names:
        return cls(request), None
    if "APIConnectionError" in names:
        return cls(message=f"Connection error for Bearer {KEY}.", request=request), None  # type: ignore[call-arg]
    if "APIError" in names:
        return cls(f"odd answer {KEY}", request, body=body), None  # type: ignore[call-arg]
    special: dict[str, Callable[[], BaseException]] = {
        "LengthFinishReasonError": lambda: cls(  # type: ignore[call-arg]
            completion=sdk.types.chat.ChatCompletion.model_construct(usage=None)),
        "ContentFilterFinishReasonError": lambda: cls(completion=None),  # type: ignore[call-arg]
        "WebSocketConnectionClosedError": lambda: cls(  # type: ignore[call-arg]
            f"closed {KEY}", unsent_messages=[]),
    }
    if cls.__name__ in special:
        return special[cls.__name__](), None
    return cls(f"something failed with {KEY}"), None


@pytest.mark.parametrize(("provider", "cls"), CASES,
                         ids=[f"{p}.{c.__name__}" for p, c in CASES])
def test_every_sdk_exception_maps(provider: str, cls: type[BaseException]) -> None:
    sdk = importlib.import_module(SDKS[provider])
    assert cls.__name__ in EXPECTED, f"{provider}.{cls.__name__} is new: decide its mapping"
    exc, status = build(provider, sdk, cls)
    with pytest.raises(tp.TuneportError) as caught, \
            _hosted.map_errors(provider, sdk, "creating the job", secrets=(KEY,)):
        raise exc
    mapped = caught.value
    assert type(mapped) is EXPECTED[cls.__name__], (type(mapped), cls)
    assert isinstance(mapped, tp.ProviderError)
    text = str(mapped)
    assert mapped.provider == provider
    assert text.startswith(f"[{provider}] ")
    if status is not None:
        assert mapped.status_code == status
        assert f"HTTP {status}" in text
        assert mapped.request_id == REQUEST_ID
        assert REQUEST_ID in text
    advice = text.rsplit(". ", 1)[-1].lower() if ". " in text else ""
    assert any(w in advice for w in ADVICE_WORDS), f"no advice in {text!r}"
    # The cause is the SDK's exception, scrubbed: no key, no header, no W&B key anywhere.
    assert mapped.__cause__ is exc
    printed = "".join(traceback.format_exception(mapped))
    everything = printed + repr(vars(exc)) + repr(exc.args)
    request = getattr(exc, "request", None)
    response = getattr(exc, "response", None)
    for part in (request, response):
        if part is not None:
            everything += repr(dict(part.headers)) + part.content.decode()
            everything += repr(dict(getattr(part, "request", part).headers))
    assert KEY not in everything
    assert KEY[3:] not in everything
    assert WANDB not in everything
    if status is not None:  # kept: status, request id and the provider's message
        assert exc.status_code == status  # type: ignore[attr-defined]
        assert response is not None
        assert response.headers["x-request-id"] == REQUEST_ID
        if isinstance(exc, sdk.APIStatusError):
            assert "bad key" in str(exc.body)


def test_enumeration_finds_the_sdk_classes() -> None:
    names = {(p, c.__name__) for p, c in CASES}
    # Lower bound from the SDKs' documented trees: 14 shared Stainless classes each.
    for provider in SDKS:
        assert sum(1 for p, _ in names if p == provider) >= 14
    assert ("openai", "LengthFinishReasonError") in names
    assert ("together", "FileTypeError") in names


def test_non_sdk_exceptions_pass_through() -> None:
    sdk = importlib.import_module("openai")
    with pytest.raises(KeyError), _hosted.map_errors("openai", sdk, "doing"):
        raise KeyError("ours")


def test_the_provider_errors_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("starlette")
    example = Path(__file__).resolve().parents[2] / "examples" / "provider_errors.py"
    runpy.run_path(str(example), run_name="__main__")
    out = capsys.readouterr().out
    assert out.count("AuthenticationError: status=401") == 3
    assert out.count("NotFoundError: status=404") == 3
    assert out.count("key in the full traceback: False") == 3
    assert "sk-this-key-is-wrong" not in out
