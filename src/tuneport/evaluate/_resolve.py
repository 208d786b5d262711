"""What the caller names, turned into targets: endpoints, ``(base_url, model)`` pairs,
``"URL#MODEL"`` strings, and ``baseline="base"``.

``baseline="base"`` is the job's base model served the same way as the fine-tune:
- local: the same base model in this process with the adapter switched off;
- OpenAI: the base model at the same API (it serves every base model per token);
- Together / Fireworks: the provider's serverless base, where the catalog prices the base
  model per token; otherwise a fine-tuned model there is only on a dedicated deployment,
  and a clear error asks for a baseline endpoint instead.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from tuneport._exceptions import ConfigError, TuneportError
from tuneport._models import EndpointState, ModelEndpoint
from tuneport.evaluate._judge import Judge
from tuneport.evaluate._targets import LocalTarget, OpenAITarget, Target, parse_model_url

__all__ = ["baseline_target", "judge_from", "target_for"]

BaselineSpec = str | ModelEndpoint | tuple[str, str]


def target_for(spec: ModelEndpoint | tuple[str, str] | str, *, use_adapter: bool = True,
               api_key: SecretStr | None = None) -> Target:
    """A target for an endpoint, a ``(base_url, model)`` pair or ``"URL#MODEL"``.

    Raises:
        ConfigError: a hosted endpoint that is not ready, or a malformed pair.
    """
    if isinstance(spec, ModelEndpoint):
        if spec.kind == "local":
            return LocalTarget(label=spec.model if use_adapter else f"{spec.base_model} (base)",
                               provider="local", base_model=spec.base_model, endpoint=spec,
                               use_adapter=use_adapter)
        if spec.state is not EndpointState.READY:
            raise ConfigError(
                f"The {spec.provider} endpoint for {spec.model!r} is {spec.state.value}; deploy "
                "it first (client.deploy(job, wait=True) or tuneport endpoint JOB --deploy).")
        return OpenAITarget(label=spec.model, provider=spec.provider, base_model=spec.base_model,
                            base_url=spec.base_url, model=spec.model, api_key=spec.api_key)
    if isinstance(spec, str):
        base_url, model = parse_model_url(spec)
    elif isinstance(spec, tuple) and len(spec) == 2 and all(isinstance(s, str) for s in spec):
        base_url, model = spec
    else:
        raise ConfigError(f"Cannot call {spec!r}: give a ModelEndpoint, an OpenAI-compatible "
                          "(base_url, model) pair or 'URL#MODEL'.")
    return OpenAITarget(label=model, provider="custom", base_url=base_url, model=model,
                        api_key=api_key)


def baseline_target(tuned: ModelEndpoint, baseline: BaselineSpec) -> Target:
    """The baseline's target (see the module docstring for ``"base"``).

    Raises:
        ConfigError: ``"base"`` where the provider has no serverless base model, or the
            endpoint does not say which base model it was tuned from.
    """
    if not (isinstance(baseline, str) and baseline == "base"):
        if isinstance(baseline, str) and "#" not in baseline:
            # A bare model id: the same API as the tuned model (an OpenAI base model, say).
            if tuned.kind == "local":
                raise ConfigError(f"baseline={baseline!r}: a local model is compared with "
                                  "baseline='base' or an OpenAI-compatible 'URL#MODEL'.")
            return OpenAITarget(label=baseline, provider=tuned.provider, base_model=baseline,
                                base_url=tuned.base_url, model=baseline, api_key=tuned.api_key)
        return target_for(baseline)
    if tuned.kind == "local":
        return target_for(tuned, use_adapter=False)
    if not tuned.base_model:
        raise ConfigError(f"The {tuned.provider} endpoint {tuned.model!r} does not say which "
                          "base model it was tuned from; pass baseline=ModelEndpoint or "
                          "('https://.../v1', 'model').")
    if tuned.provider == "openai":
        return OpenAITarget(label=tuned.base_model, provider="openai",
                            base_model=tuned.base_model, base_url=tuned.base_url,
                            model=tuned.base_model, api_key=tuned.api_key)
    serverless_id = _serverless_base(tuned.provider, tuned.base_model)
    if serverless_id is None:
        raise ConfigError(
            f"{tuned.provider} serves no serverless {tuned.base_model} that tuneport's catalog "
            "knows of, so baseline='base' has nothing to call. Deploy the base model (or use "
            "any OpenAI-compatible server) and pass it: baseline=ModelEndpoint(...), "
            "baseline=('https://.../v1', 'model') or --baseline URL#MODEL.")
    return OpenAITarget(label=serverless_id, provider=tuned.provider,
                        base_model=tuned.base_model, base_url=tuned.base_url,
                        model=serverless_id, api_key=tuned.api_key)


def _serverless_base(provider: str, base_model: str) -> str | None:
    """The provider's id of a base model it serves per token, if the catalog says so."""
    from tuneport.catalog import load_catalog

    try:
        entry = load_catalog().resolve_model(provider, base_model)
    except TuneportError:
        return None
    if entry.serving is not None and entry.serving.kind == "per_1m_tokens":
        return entry.id
    return None


def judge_from(judge: Any) -> Judge | None:
    """A :class:`Judge` from a Judge, an endpoint, a ``(base_url, model)`` pair or
    ``"URL#MODEL"`` (None stays None)."""
    if judge is None or isinstance(judge, Judge):
        return judge
    if isinstance(judge, ModelEndpoint):
        return Judge(base_url=judge.base_url, model=judge.model, api_key=judge.api_key)
    if isinstance(judge, str):
        base_url, model = parse_model_url(judge)
        return Judge(base_url=base_url, model=model)
    if isinstance(judge, tuple) and len(judge) == 2:
        return Judge(base_url=str(judge[0]), model=str(judge[1]))
    raise ConfigError(f"judge={judge!r}: give tuneport.evaluate.Judge(...), a ModelEndpoint, "
                      "a (base_url, model) pair or 'URL#MODEL'.")
