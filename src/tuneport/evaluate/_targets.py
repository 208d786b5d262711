"""The models an evaluation calls: any OpenAI-compatible endpoint, or a local model in
this process (answered in batches).

A target answers ``chat`` requests and says how its replies are cached (``cache_id``: the
endpoint and model, never a key). Errors from the ``openai`` SDK are turned into
tuneport's exception tree here, so the retry policy the client hands in (the same one
every other tuneport call uses) knows which are worth another try.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from tuneport._exceptions import (
    AuthenticationError,
    BadRequestError,
    ConfigError,
    NotFoundError,
    ProviderError,
    RateLimitError,
    ServerError,
    TransportError,
)

if TYPE_CHECKING:
    from tuneport._models import ModelEndpoint

__all__ = ["LocalTarget", "OpenAITarget", "Target", "parse_model_url"]


@dataclass
class Target:
    """Something that answers chat requests.

    Attributes:
        label: how reports name it (the model id).
        provider: whose rate limit and prices apply (``openai``, ``local``, ``custom`` ...).
        base_model: the catalog name used to price its tokens, when known.
    """

    label: str
    provider: str
    base_model: str | None = None

    @property
    def cache_id(self) -> str:
        """What identifies the model in the response cache."""
        raise NotImplementedError

    @property
    def batched(self) -> bool:
        """True when :meth:`complete_batch` answers many requests at once."""
        return False

    def complete(self, messages: list[dict[str, Any]], *, max_tokens: int,
                 tools: list[Any] | None = None) -> dict[str, Any]:
        """One reply: ``{"text", "tool_calls", "prompt_tokens", "completion_tokens"}``."""
        raise NotImplementedError

    def complete_batch(self, conversations: list[list[dict[str, Any]]], *,
                       max_tokens: int) -> list[dict[str, Any]]:
        """Many replies at once (batched targets only)."""
        raise NotImplementedError


@dataclass
class OpenAITarget(Target):
    """A model behind an OpenAI-compatible ``/v1/chat/completions`` (hosted, ``tuneport
    serve``, vLLM, the emulator)."""

    base_url: str = ""
    model: str = ""
    api_key: SecretStr | None = field(default=None, repr=False)
    timeout: float = 120.0
    _client: Any = field(default=None, repr=False)

    @property
    def cache_id(self) -> str:
        return f"{self.base_url.rstrip('/')}#{self.model}"

    def _openai(self) -> Any:
        if self._client is None:
            try:
                import openai
            except ImportError as exc:  # pragma: no cover - depends on the environment
                raise ConfigError("Evaluating a hosted endpoint needs the openai package: "
                                  "pip install 'tuneport[hosted]'") from exc
            key = self.api_key.get_secret_value() if self.api_key else "not-needed"
            # The SDK's own retries off: tuneport's policy is the only one, as for jobs.
            self._client = openai.OpenAI(base_url=self.base_url, api_key=key,
                                         max_retries=0, timeout=self.timeout)
        return self._client

    def complete(self, messages: list[dict[str, Any]], *, max_tokens: int,
                 tools: list[Any] | None = None) -> dict[str, Any]:
        import openai

        extra: dict[str, Any] = {"tools": tools} if tools else {}
        try:
            response = self._openai().chat.completions.create(
                model=self.model, messages=messages, max_tokens=max_tokens, temperature=0.0,
                **extra,
            )
        except openai.APIError as exc:
            raise _map_openai_error(exc, self.provider) from exc
        if not response.choices:
            raise ServerError(f"{self.model} answered with no choices.", provider=self.provider)
        message = response.choices[0].message
        calls = [c.model_dump(mode="json") for c in message.tool_calls or ()]
        usage = response.usage
        return {"text": message.content or "", "tool_calls": calls,
                "prompt_tokens": usage.prompt_tokens if usage else 0,
                "completion_tokens": usage.completion_tokens if usage else 0}

    def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            self._client.close()
            self._client = None


@dataclass
class LocalTarget(Target):
    """A local endpoint answered in this process, in batches; ``use_adapter=False`` is the
    base model alone (the local baseline)."""

    endpoint: ModelEndpoint | None = None
    use_adapter: bool = True

    @property
    def cache_id(self) -> str:
        assert self.endpoint is not None
        path = self.endpoint.adapter_path if self.use_adapter else None
        return f"local:{self.endpoint.base_model}#{path or 'base'}"

    @property
    def batched(self) -> bool:
        return True

    def complete_batch(self, conversations: list[list[dict[str, Any]]], *,
                       max_tokens: int) -> list[dict[str, Any]]:
        assert self.endpoint is not None
        replies = self.endpoint.chat_batch(conversations, max_tokens=max_tokens,
                                           use_adapter=self.use_adapter)
        return [{"text": r.text, "tool_calls": [], "prompt_tokens": r.prompt_tokens,
                 "completion_tokens": r.completion_tokens} for r in replies]


def _map_openai_error(exc: Exception, provider: str) -> ProviderError:
    import openai

    message = str(getattr(exc, "message", None) or exc)
    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError):
        return TransportError(message, provider=provider)
    status = getattr(exc, "status_code", None)
    if isinstance(exc, openai.RateLimitError):
        after = exc.response.headers.get("retry-after")
        try:
            retry_after = float(after) if after is not None else None
        except ValueError:
            retry_after = None
        return RateLimitError(message, provider=provider, retry_after=retry_after)
    if status in (401, 403):
        return AuthenticationError(message, provider=provider, status_code=status)
    if status == 404:
        return NotFoundError(message, provider=provider, status_code=status)
    if status is not None and status >= 500:
        return ServerError(message, provider=provider, status_code=status)
    if status is not None:
        return BadRequestError(message, provider=provider, status_code=status)
    return ProviderError(message, provider=provider)


def parse_model_url(value: str) -> tuple[str, str]:
    """``"URL#MODEL"`` → ``(base_url, model)`` (the CLI's form for a model anywhere).

    Raises:
        ConfigError: no ``#`` or an empty part.
    """
    url, sep, model = value.rpartition("#")
    if not sep or not url.strip() or not model.strip():
        raise ConfigError(f"{value!r} is not URL#MODEL; write the OpenAI-compatible base URL, "
                          "'#', then the model id, e.g. http://127.0.0.1:8000/v1#my-model.")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{url!r} is not an http(s) URL (in {value!r}).")
    return url.strip(), model.strip()


def describe_messages(messages: list[dict[str, Any]]) -> str:
    """The last user turn, for tables (JSON for non-text content)."""
    for m in reversed(messages):
        if m.get("role") == "user":
            content = m.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""
