"""Call a locally fine-tuned model: in Python (:class:`LocalModel`) or over HTTP.

``tuneport serve JOB --port P`` runs :func:`serve`: an OpenAI-compatible server on
loopback with ``GET /v1/models`` and ``POST /v1/chat/completions`` (``stream=true``
answers with OpenAI's ``chat.completion.chunk`` server-sent events). ``model`` may be the
job id (base model + adapter) or ``base`` (the base model alone, for comparisons), so
``endpoint.openai_client()`` works as for hosted providers. For production serving use
vLLM (``vllm serve BASE --enable-lora --lora-modules NAME=ADAPTER``; see docs/local.md).
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuneport._exceptions import ConfigError
from tuneport.local.models import load_model, load_tokenizer, resolve_model_path
from tuneport.local.rundir import RunDir

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from tuneport._models import ModelEndpoint

__all__ = ["BASE_MODEL_ID", "ChatResult", "LocalModel", "build_app", "serve"]

BASE_MODEL_ID = "base"


@dataclass(frozen=True)
class ChatResult:
    """One generated reply."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


class LocalModel:
    """A base model plus (optionally) a LoRA adapter, ready to generate.

    Build it with :meth:`from_job`, :meth:`from_endpoint` or :meth:`from_paths`.
    """

    def __init__(self, model: Any, tokenizer: Any, *, name: str, has_adapter: bool) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.has_adapter = has_adapter
        self._lock = threading.Lock()

    @classmethod
    def from_paths(cls, base_model: str, adapter_path: str | Path | None = None, *,
                   name: str | None = None) -> LocalModel:
        """Load ``base_model`` (folder, GGUF file or HF id) and an optional adapter."""
        model_path = resolve_model_path(base_model)
        tokenizer = load_tokenizer(str(adapter_path) if adapter_path else model_path)
        model = load_model(model_path, attn_implementation="sdpa")
        if adapter_path is not None:
            import warnings

            from peft import PeftModel

            with warnings.catch_warnings():
                # peft reads transformers' deprecated is_gradient_checkpointing (v5 rename).
                warnings.simplefilter("ignore", FutureWarning)
                model = PeftModel.from_pretrained(model, str(adapter_path))
        model.eval()
        return cls(model, tokenizer, name=name or base_model,
                   has_adapter=adapter_path is not None)

    @classmethod
    def from_job(cls, job_id: str) -> LocalModel:
        """The fine-tuned model of a succeeded local job."""
        rd = RunDir.for_job(job_id)
        if not rd.exists():
            raise ConfigError(f"No local job {job_id!r} (looked in {rd.path}).")
        status = rd.read_status()
        if status.get("status") != "succeeded":
            raise ConfigError(
                f"Local job {job_id} is {status.get('status', 'unknown')}; it can be served "
                "once it has succeeded (tuneport wait JOB)."
            )
        config = rd.read_config()
        if config.get("method") == "full":
            return cls.from_paths(str(rd.model_dir), name=job_id)
        return cls.from_paths(config["model"], rd.adapter_dir, name=job_id)

    @classmethod
    def from_endpoint(cls, endpoint: ModelEndpoint) -> LocalModel:
        """The model behind a local :class:`~tuneport._models.ModelEndpoint`."""
        if endpoint.kind != "local":
            raise ConfigError("LocalModel.from_endpoint needs a local endpoint "
                              f"(got {endpoint.kind!r}); use endpoint.openai_client().")
        if endpoint.adapter_path is not None and endpoint.base_model:
            # The endpoint knows where its run lives, whatever home it was made under
            # (Client(home=...)); the job id alone would be looked up in TUNEPORT_HOME.
            return cls.from_paths(endpoint.base_model, endpoint.adapter_path,
                                  name=endpoint.model)
        return cls.from_job(endpoint.model)

    def chat(self, messages: list[dict[str, Any]], *, max_tokens: int = 128,
             temperature: float = 0.0, top_p: float = 1.0, stop: list[str] | None = None,
             use_adapter: bool = True, seed: int | None = None) -> ChatResult:
        """Reply to a conversation (greedy when ``temperature`` is 0).

        Args:
            messages: OpenAI-style ``{"role", "content"}`` messages.
            max_tokens: the most new tokens to generate.
            temperature: sampling temperature; 0 means greedy.
            top_p: nucleus sampling mass.
            stop: strings that end the reply (not included).
            use_adapter: False answers with the base model alone.
            seed: sampling seed.
        """
        return self._generate(self._chat_prompt(messages), max_tokens=max_tokens,
                              temperature=temperature, top_p=top_p, stop=stop,
                              use_adapter=use_adapter, seed=seed, add_special_tokens=False)

    def chat_batch(self, conversations: list[list[dict[str, Any]]], *, max_tokens: int = 128,
                   use_adapter: bool = True, batch_size: int | None = None) -> list[ChatResult]:
        """Greedy replies to many conversations, generated in left-padded batches.

        The same replies as :meth:`chat` one by one (greedy), in far less time; see
        :mod:`tuneport.local.generation`.
        """
        from tuneport.local.generation import DEFAULT_BATCH_SIZE, generate_batch

        return generate_batch(self, conversations, max_tokens=max_tokens,
                              use_adapter=use_adapter,
                              batch_size=batch_size or DEFAULT_BATCH_SIZE)

    def generate(self, prompt: str, *, max_tokens: int = 128, temperature: float = 0.0,
                 top_p: float = 1.0, stop: list[str] | None = None,
                 use_adapter: bool = True) -> str:
        """Continue a raw text prompt (no chat template)."""
        return self._generate(prompt, max_tokens=max_tokens, temperature=temperature,
                              top_p=top_p, stop=stop, use_adapter=use_adapter, seed=None,
                              add_special_tokens=True).text

    def stream_chat(self, messages: list[dict[str, Any]], *, max_tokens: int = 128,
                    temperature: float = 0.0, top_p: float = 1.0,
                    stop: list[str] | None = None, use_adapter: bool = True,
                    seed: int | None = None) -> Iterator[str | ChatResult]:
        """Like :meth:`chat`, but yields the reply as it is generated.

        Yields text pieces (``str``) whose concatenation is the reply, then one final
        :class:`ChatResult` with the whole text, token counts and finish reason. Closing
        the iterator early stops the generation.
        """
        prompt = self._chat_prompt(messages)
        encoded, config, eos, no_adapter = self._prepare(prompt, max_tokens=max_tokens,
                                                         temperature=temperature, top_p=top_p,
                                                         use_adapter=use_adapter,
                                                         add_special_tokens=False)
        pieces, halt, worker = self._generate_in_thread(encoded, config, no_adapter, seed)
        # Held back until settled: the longest partial stop string, whitespace at the
        # end (replies are stripped) and an incomplete UTF-8 character.
        hold = max((len(s) - 1 for s in stop or () if s), default=0)
        new: list[int] = []
        sent, finish = "", "length"
        try:
            while True:
                item = pieces.get()
                if isinstance(item, BaseException):
                    raise item
                if item is None:
                    break
                new.extend(item)
                if new[-1] in eos:
                    finish = "stop"
                text, cut = _apply_stop(
                    self.tokenizer.decode(new, skip_special_tokens=True).lstrip(), stop)
                if cut:
                    finish = "stop"
                    halt.set()
                ready = text.rstrip().rstrip("\ufffd")
                ready = ready if cut else ready[: max(0, len(ready) - hold)]
                if len(ready) > len(sent):
                    yield ready[len(sent):]
                    sent = ready
                if cut:
                    break
            text, _ = _apply_stop(self.tokenizer.decode(new, skip_special_tokens=True), stop)
            text = text.strip()
            if len(text) > len(sent):
                yield text[len(sent):]
            yield ChatResult(text=text, prompt_tokens=int(encoded["input_ids"].shape[1]),
                             completion_tokens=len(new), finish_reason=finish)
        finally:
            halt.set()
            worker.join()

    def _generate_in_thread(
        self, encoded: Any, config: Any, no_adapter: Any, seed: int | None,
    ) -> tuple[queue.Queue[list[int] | BaseException | None], threading.Event,
               threading.Thread]:
        """Start ``generate`` in a thread that hands each new token id to a queue.

        Returns the queue (lists of ids, then ``None``; or the exception generation
        raised), an event that stops generation when set (a stop string was seen, or the
        reader went away), and the thread. Token ids rather than text (transformers'
        ``TextIteratorStreamer``) because the reply's usage counts tokens and its finish
        reason needs the ids; stop strings are cut here rather than by ``stop_strings``,
        which keeps the stop text in the reply where OpenAI's API leaves it out.
        """
        from transformers import StoppingCriteria, StoppingCriteriaList
        from transformers.generation.streamers import BaseStreamer

        pieces: queue.Queue[list[int] | BaseException | None] = queue.Queue()
        halt = threading.Event()

        class Tokens(BaseStreamer):
            """Hands each new token id to the reading thread (the first call is the prompt)."""

            def __init__(self) -> None:
                self.prompt_seen = False

            def put(self, value: Any) -> None:
                if self.prompt_seen:
                    pieces.put([int(v) for v in value.reshape(-1).tolist()])
                self.prompt_seen = True

            def end(self) -> None:
                pieces.put(None)

        class Halt(StoppingCriteria):
            """Ends generation once a stop string was seen or the reader went away."""

            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                import torch

                return torch.full((input_ids.shape[0],), halt.is_set(), dtype=torch.bool)

        def produce() -> None:
            import torch

            try:
                with self._lock, no_adapter, torch.no_grad():
                    if seed is not None:
                        torch.manual_seed(seed)
                    self.model.generate(**encoded, generation_config=config, streamer=Tokens(),
                                        stopping_criteria=StoppingCriteriaList([Halt()]))
            except BaseException as exc:  # handed to the reader, which re-raises it
                pieces.put(exc)

        worker = threading.Thread(target=produce, daemon=True)
        worker.start()
        return pieces, halt, worker

    def _chat_prompt(self, messages: list[dict[str, Any]]) -> str:
        return str(self.tokenizer.apply_chat_template(
            [{"role": m["role"], "content": m.get("content") or ""} for m in messages],
            tokenize=False, add_generation_prompt=True))

    def _prepare(self, prompt: str, *, max_tokens: int, temperature: float, top_p: float,
                 use_adapter: bool,
                 add_special_tokens: bool) -> tuple[dict[str, Any], Any, set[int], Any]:
        """Inputs, generation config, end-of-turn ids and the adapter switch for a prompt."""
        import contextlib

        from transformers import GenerationConfig

        encoded = self.tokenizer(prompt, return_tensors="pt",
                                 add_special_tokens=add_special_tokens)
        device = next(self.model.parameters()).device
        encoded = {k: v.to(device) for k, v in encoded.items() if k != "token_type_ids"}
        eos = {self.tokenizer.eos_token_id}
        im_end = self.tokenizer.convert_tokens_to_ids("<|im_end|>")
        if isinstance(im_end, int) and im_end != self.tokenizer.unk_token_id:
            eos.add(im_end)
        eos.discard(None)
        sample = temperature > 0
        config = GenerationConfig(  # type: ignore[no-untyped-call]
            max_new_tokens=max_tokens, do_sample=sample,
            temperature=temperature if sample else None, top_p=top_p if sample else None,
            top_k=None, eos_token_id=sorted(eos), pad_token_id=self.tokenizer.pad_token_id,
        )
        no_adapter = (self.model.disable_adapter() if (self.has_adapter and not use_adapter)
                      else contextlib.nullcontext())
        return encoded, config, eos, no_adapter

    def _generate(self, prompt: str, *, max_tokens: int, temperature: float, top_p: float,
                  stop: list[str] | None, use_adapter: bool, seed: int | None,
                  add_special_tokens: bool) -> ChatResult:
        import torch

        encoded, config, eos, no_adapter = self._prepare(
            prompt, max_tokens=max_tokens, temperature=temperature, top_p=top_p,
            use_adapter=use_adapter, add_special_tokens=add_special_tokens)
        with self._lock, no_adapter, torch.no_grad():
            if seed is not None:
                torch.manual_seed(seed)
            output = self.model.generate(**encoded, generation_config=config)
        new = output[0, encoded["input_ids"].shape[1]:].tolist()
        finish = "stop" if new and new[-1] in eos else "length"
        text, cut = _apply_stop(self.tokenizer.decode(new, skip_special_tokens=True), stop)
        return ChatResult(text=text.strip(), prompt_tokens=int(encoded["input_ids"].shape[1]),
                          completion_tokens=len(new), finish_reason="stop" if cut else finish)


def _apply_stop(text: str, stop: list[str] | None) -> tuple[str, bool]:
    """``text`` cut before the first stop string, and whether one was found."""
    cut = min((text.find(s) for s in stop or () if s and s in text), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def _error(message: str, status: int, code: str = "invalid_request_error") -> Any:
    from starlette.responses import JSONResponse

    return JSONResponse({"error": {"message": message, "type": code, "param": None,
                                   "code": None}}, status_code=status)


def _usage(result: ChatResult) -> dict[str, int]:
    return {"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
            "total_tokens": result.prompt_tokens + result.completion_tokens}


def _sse_chunks(pieces: Iterator[str | ChatResult], *, completion_id: str, model_id: str,
                include_usage: bool) -> Iterator[str]:
    """OpenAI's ``chat.completion.chunk`` server-sent events for a streamed reply.

    The first chunk carries the role, then one chunk per text piece, then one with the
    finish reason (and, when asked with ``stream_options.include_usage``, one with the
    usage and no choices), then ``data: [DONE]``.
    """
    created = int(time.time())

    def event(choices: list[dict[str, Any]], **extra: Any) -> str:
        chunk = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                 "model": model_id, "choices": choices, **extra}
        return f"data: {json.dumps(chunk)}\n\n"

    def choice(delta: dict[str, str], finish: str | None = None) -> list[dict[str, Any]]:
        return [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]

    yield event(choice({"role": "assistant", "content": ""}))
    try:
        for piece in pieces:
            if isinstance(piece, str):
                yield event(choice({"content": piece}))
                continue
            yield event(choice({}, piece.finish_reason))
            if include_usage:
                yield event([], usage=_usage(piece))
    except Exception as exc:  # headers are sent: report in the stream, as OpenAI does
        yield f"data: {json.dumps({'error': {'message': str(exc), 'type': 'server_error'}})}\n\n"
        return
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()  # stops generation when the client went away
    yield "data: [DONE]\n\n"


def build_app(model: LocalModel, *, model_id: str, base_model: str | None = None) -> Starlette:
    """The OpenAI-compatible Starlette app serving ``model`` as ``model_id`` (and ``base``)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    created = int(time.time())
    ids = [model_id] + ([BASE_MODEL_ID] if model.has_adapter else [])

    async def list_models(request: Request) -> JSONResponse:
        data = [{"id": i, "object": "model", "created": created, "owned_by": "tuneport",
                 "root": base_model or i} for i in ids]
        return JSONResponse({"object": "list", "data": data})

    async def chat_completions(request: Request) -> Any:
        try:
            body = await request.json()
        except ValueError:
            return _error("The request body is not valid JSON.", 400)
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _error("'messages' (a list) is required.", 400)
        requested = body.get("model") or model_id
        if requested not in ids:
            return _error(f"The model {requested!r} does not exist here; "
                          f"available: {', '.join(ids)}.", 404, "model_not_found")
        if body.get("n") not in (None, 1):
            return _error("Only n=1 is supported.", 400)
        stop = body.get("stop")
        try:
            options: dict[str, Any] = {
                "max_tokens": int(body.get("max_completion_tokens") or body.get("max_tokens")
                                  or 128),
                "temperature": float(body.get("temperature") or 0.0),
                "top_p": float(body.get("top_p") or 1.0),
                "stop": [stop] if isinstance(stop, str) else list(stop or []),
                "use_adapter": requested != BASE_MODEL_ID,
                "seed": None if body.get("seed") is None else int(body["seed"]),
            }
            messages = [{"role": str(m["role"]), "content": m.get("content")}
                        for m in body["messages"]]
        except (TypeError, ValueError, KeyError) as exc:
            return _error(f"Invalid request: {exc}", 400)
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        if body.get("stream"):
            usage_wanted = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(
                _sse_chunks(model.stream_chat(messages, **options), completion_id=completion_id,
                            model_id=requested, include_usage=usage_wanted),
                media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        try:
            result = await run_in_threadpool(model.chat, messages, **options)
        except (TypeError, ValueError) as exc:  # e.g. roles the chat template refuses
            return _error(f"Invalid request: {exc}", 400)
        return JSONResponse({
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": requested,
            "choices": [{"index": 0, "finish_reason": result.finish_reason, "logprobs": None,
                         "message": {"role": "assistant", "content": result.text}}],
            "usage": _usage(result),
        })

    return Starlette(routes=[
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    ])


def serve(job_id: str, *, port: int, host: str = "127.0.0.1",
          log_level: str = "warning") -> None:
    """Serve a succeeded local job until interrupted (blocking)."""
    import uvicorn

    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError("tuneport serve listens on loopback only; put a reverse proxy or "
                          "vLLM in front for anything else.")
    rd = RunDir.for_job(job_id)
    model = LocalModel.from_job(job_id)
    app = build_app(model, model_id=job_id, base_model=rd.read_config().get("model"))
    info = rd.path / "serve.json"
    info.write_text(json.dumps({"pid": os.getpid(), "port": port, "host": host}) + "\n")
    try:
        uvicorn.run(app, host=host, port=port, log_level=log_level)
    finally:
        info.unlink(missing_ok=True)

