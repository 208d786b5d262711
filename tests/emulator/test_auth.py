"""A missing or wrong API key gets each provider's own 401, as each official SDK sees it."""

from __future__ import annotations

from typing import Any

import pytest

openai = pytest.importorskip("openai")
together = pytest.importorskip("together")
fireworks = pytest.importorskip("fireworks")

from tuneport.emulator import Emulator  # noqa: E402

from . import spec_validator  # noqa: E402
from . import test_fireworks_contract as fw  # noqa: E402

WRONG_KEY = "sk-wrong-key-123456"


def _list_with(emu: Emulator, provider: str, key: str) -> Any:
    if provider == "openai":
        return openai.OpenAI(base_url=emu.openai_base_url, api_key=key,
                             max_retries=0).fine_tuning.jobs.list()
    if provider == "together":
        return together.Together(base_url=emu.together_base_url, api_key=key,
                                 max_retries=0).fine_tuning.list()
    return fireworks.Fireworks(base_url=emu.fireworks_base_url, api_key=key,
                               account_id=fw.ACCOUNT,
                               max_retries=0).supervised_fine_tuning_jobs.list()


BARE_URLS = {"openai": "/openai/v1/fine_tuning/jobs", "together": "/together/v1/fine-tunes",
             "fireworks": f"/fireworks/v1/accounts/{fw.ACCOUNT}/supervisedFineTuningJobs"}


def _check_shape(provider: str, body: dict[str, Any], code: str | None) -> str:
    if provider == "fireworks":  # a google.rpc status: UNAUTHENTICATED is 16
        assert body["code"] == 16
        assert body["details"] == []
        return str(body["message"])
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["param"] is None
    assert error["code"] == code
    return str(error["message"])


@pytest.mark.parametrize("provider", ["openai", "together", "fireworks"])
def test_wrong_key(emu: Emulator, provider: str) -> None:
    module = {"openai": openai, "together": together, "fireworks": fireworks}[provider]
    with pytest.raises(module.AuthenticationError) as exc:
        _list_with(emu, provider, WRONG_KEY)
    assert exc.value.status_code == 401
    message = _check_shape(provider, exc.value.body if provider == "fireworks"
                           else exc.value.response.json(), "invalid_api_key")
    assert WRONG_KEY not in message  # a wrong key is masked, never echoed whole
    if provider == "openai":
        assert message.startswith("Incorrect API key provided: sk-***3456.")
        assert exc.value.code == "invalid_api_key"


@pytest.mark.parametrize("provider", ["openai", "together", "fireworks"])
def test_missing_key(emu: Emulator, provider: str) -> None:
    import httpx2

    # The SDKs refuse to start without a key, so send the request they would send, bare.
    r = httpx2.get(emu.url + BARE_URLS[provider])
    assert r.status_code == 401
    message = _check_shape(provider, r.json(), None if provider == "openai"
                           else "invalid_api_key")
    assert "API key" in message
    if provider == "openai" and spec_validator.SPECS.is_dir():
        import jsonschema

        spec = spec_validator._spec("openai")
        jsonschema.validate(r.json(), {"$ref": "#/components/schemas/ErrorResponse",
                                       "components": spec["components"]})


def test_presigned_upload_urls_need_their_signature_not_a_key(emu: Emulator) -> None:
    import httpx2

    r = httpx2.put(emu.url + "/together/_presigned/file-x?X-Emulator-Signature=forged",
                   content=b"{}")
    assert r.status_code == 403
    assert "AccessDenied" in r.text
