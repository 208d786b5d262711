"""The normalized models' own behaviour."""

from __future__ import annotations

import pytest

from tuneport import ConfigError, EndpointState, JobStatus, ModelEndpoint


def test_terminal_statuses() -> None:
    terminal = {s for s in JobStatus if s.is_terminal}
    assert terminal == {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED,
                        JobStatus.DELETED}


def test_hosted_endpoint_chat_refuses_before_deployment() -> None:
    endpoint = ModelEndpoint(provider="together", model="acct/model-x",
                             base_url="http://127.0.0.1:1/v1", kind="dedicated",
                             state=EndpointState.NOT_DEPLOYED)
    with pytest.raises(ConfigError, match=r"not_deployed; deploy it first"):
        endpoint.chat([{"role": "user", "content": "hi"}])


def test_endpoint_repr_and_dump_hide_the_key() -> None:
    from pydantic import SecretStr

    endpoint = ModelEndpoint(provider="openai", model="ft:x", base_url="http://h/v1",
                             kind="serverless", state=EndpointState.READY,
                             api_key=SecretStr("sk-secret-123"))
    assert "sk-secret-123" not in repr(endpoint)
    assert "sk-secret-123" not in str(endpoint.model_dump())


def test_ready_hosted_endpoint_chats_through_the_openai_client() -> None:
    from pydantic import SecretStr

    from tuneport.emulator import running

    with running() as emu:
        endpoint = ModelEndpoint(provider="openai", model="gpt-4o-mini-2024-07-18",
                                 base_url=emu.openai_base_url, kind="serverless",
                                 state=EndpointState.READY, api_key=SecretStr(emu.api_key))
        reply = endpoint.chat([{"role": "user", "content": "Hello"}], max_tokens=16)
    assert isinstance(reply, str)
    assert reply
