"""Tokenizers per target: exact ones (tiktoken, a model's own tokenizer) and an approximation.

Counting follows OpenAI's cookbook for chat: per message a fixed overhead plus the encoded
length of every value (the role included), +1 when a ``name`` is present, +3 per example to
prime the reply. Open models use the same shape with their own chat template's overhead,
measured once from the template when the tokenizer is available locally.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ApproxCounter", "ExactCounter", "SegmentCounter", "counter_for"]

log = logging.getLogger("tuneport.dataset")

# Approximation for open-model tokenizers (Llama 3, Qwen, Mistral...), checked on English
# prose, code, CJK and Cyrillic text: ASCII runs ~4 characters per token; other characters
# between ~4 per token (large vocabularies on Cyrillic) and ~0.6 (byte fallback on CJK in
# small vocabularies). The bounds are wide on purpose: they must hold for every tokenizer.
APPROX_ASCII_CHARS_PER_TOKEN = (6.0, 4.0, 2.5)  # low bound, estimate, high bound
APPROX_OTHER_CHARS_PER_TOKEN = (4.0, 2.0, 0.6)
APPROX_PER_MESSAGE = 5  # e.g. ChatML: <|im_start|> role \n ... <|im_end|> \n
APPROX_PER_EXAMPLE = 1  # BOS


@dataclass(slots=True)
class ExactCounter:
    """A real tokenizer: counts are exact for the texts (template overhead included)."""

    label: str
    per_message: int
    per_name: int
    per_example: int
    count_roles: bool
    _encode_lengths: Any = field(repr=False)
    _role_cache: dict[str, int] = field(default_factory=dict, repr=False)
    exact: bool = True
    # True: ``lengths`` spends its time in native code without the GIL (worth a thread).
    releases_gil: bool = True

    def lengths(self, texts: list[str]) -> list[int]:
        """Token lengths of ``texts`` (run on a worker thread when ``releases_gil``)."""
        result: list[int] = self._encode_lengths(texts)
        return result

    def role_len(self, role: str) -> int:
        """Tokens of a role value (OpenAI counts the role string like any value)."""
        if not self.count_roles:
            return 0
        n = self._role_cache.get(role)
        if n is None:
            n = self._role_cache[role] = self.lengths([role])[0]
        return n


@dataclass(frozen=True, slots=True)
class ApproxCounter:
    """A calibrated estimate with bounds, used when no tokenizer is available locally."""

    label: str = "approx"
    per_message: int = APPROX_PER_MESSAGE
    per_name: int = 1
    per_example: int = APPROX_PER_EXAMPLE
    exact: bool = False

    @staticmethod
    def estimate(ascii_chars: float, other_chars: float) -> tuple[int, int, int]:
        """(low, estimate, high) tokens for text with these ASCII and other characters."""
        a_lo, a_mid, a_hi = APPROX_ASCII_CHARS_PER_TOKEN
        o_lo, o_mid, o_hi = APPROX_OTHER_CHARS_PER_TOKEN
        low = int(ascii_chars / a_lo + other_chars / o_lo)
        mid = round(ascii_chars / a_mid + other_chars / o_mid)
        high = -int(-(ascii_chars / a_hi + other_chars / o_hi))  # ceil
        return low, mid, high


Counter = ExactCounter | ApproxCounter


# Encodings whose pre-tokenizer pattern makes every space that follows a non-whitespace
# character the start of a piece (no pattern matches such a space anywhere but at its start),
# so a text's count is the sum of the counts of its space-led segments. Checked against
# tiktoken on adversarial text in tests/dataset/test_tokens.py.
SEGMENTABLE_ENCODINGS = frozenset({"o200k_base", "cl100k_base"})
SEGMENT_CACHE_MAX_ENTRIES = 100_000  # ~10 MB at most; then misses encode whole texts
SEGMENT_MAX_CHARS = 48  # longer segments rarely repeat
BYPASS_AFTER_TEXTS = 5_000  # texts judged after the cache filled up


class SegmentCounter:
    """Exact tiktoken lengths from cached counts of the space-led segments of each text.

    tiktoken splits text into pieces with a regex, then byte-pair encodes each piece on its
    own. With o200k_base and cl100k_base, a space preceded by a non-whitespace character
    always starts a piece, so ``len(encode("a b c")) == len(encode("a")) + len(encode(" b"))
    + len(encode(" c"))``. Natural text reuses a small vocabulary of such segments, so most
    of them are counted by one dict lookup instead of a regex scan and BPE merges. Texts with
    unknown segments teach the cache until it is full, then are encoded whole, and when most
    texts still miss after that, every text is encoded whole (no splitting): the result is
    always exactly ``len(encoding.encode_ordinary(text))``.
    """

    def __init__(self, encode: Any, max_entries: int = SEGMENT_CACHE_MAX_ENTRIES) -> None:
        self._encode = encode
        self._max_entries = max_entries
        self._lead: dict[str, int] = {"": 0}  # a text's first segment (no space before it)
        self._spaced: dict[str, int] = {}  # later segments: the count of " " + segment
        self._full = False
        # Once full: texts seen and texts with an unknown segment. When most texts miss
        # (identifiers, random strings), splitting them first only adds work: stop trying.
        self._seen_full = 0
        self._missed_full = 0
        self._bypass = False

    def lengths(self, texts: list[str]) -> list[int]:
        """Token lengths of ``texts``, equal to ``len(encode_ordinary(t))`` for each."""
        if any(len(t) > LONG_TEXT_CHARS for t in texts):
            return [self._long(t) if len(t) > LONG_TEXT_CHARS else self._short([t])[0]
                    for t in texts]
        return self._short(texts)

    def _long(self, text: str) -> int:
        """A long text counted window by window, cut where a segment starts.

        Exact for the same reason the segment cache is (a space after a non-space always
        starts a piece), and memory stays that of one window: splitting or encoding a
        30 MB text whole would hold millions of small objects (16x the text).
        """
        total, pos, end = 0, 0, len(text)
        while pos < end:
            cut = _SPACE_AFTER_NON_SPACE.search(text, pos + LONG_TEXT_CHARS)
            stop = cut.start() if cut is not None else end
            total += self._short([text[pos:stop]])[0]
            pos = stop
        return total

    def _short(self, texts: list[str]) -> list[int]:
        if self._bypass:
            encode = self._encode
            return [len(encode(t)) for t in texts]
        lead = self._lead
        spaced_get = self._spaced.__getitem__
        split = _SPACE_AFTER_NON_SPACE.split
        out: list[int] = []
        append = out.append
        for t in texts:
            # Fast path: only single ASCII spaces as whitespace, so every space is a boundary.
            parts = t.split(" ") if t.isprintable() and "  " not in t else split(t)
            first = parts[0]
            del parts[0]
            try:
                append(lead[first] + sum(map(spaced_get, parts)))
            except KeyError:
                append(self._learn(t, first, parts))
        if self._full:
            self._seen_full += len(texts)
            if self._seen_full >= BYPASS_AFTER_TEXTS and 2 * self._missed_full > self._seen_full:
                self._bypass = True
        return out

    def _learn(self, text: str, first: str, parts: list[str]) -> int:
        encode = self._encode
        if self._full:
            self._missed_full += 1
            return len(encode(text))
        lead, spaced = self._lead, self._spaced
        n = lead.get(first)
        if n is None:
            n = len(encode(first))
            if len(first) <= SEGMENT_MAX_CHARS:
                lead[first] = n
        for p in parts:
            c = spaced.get(p)
            if c is None:
                c = len(encode(" " + p))
                if len(p) <= SEGMENT_MAX_CHARS:
                    spaced[p] = c
            n += c
        self._full = len(lead) + len(spaced) >= self._max_entries
        return n


# Texts longer than this are counted in windows of about this many characters.
LONG_TEXT_CHARS = 1 << 16

# A space preceded by a non-whitespace character (Python's whitespace includes every
# character tiktoken's \s matches, so this never splits where tiktoken would not).
_SPACE_AFTER_NON_SPACE = re.compile(r"(?<=\S) ")


def _tiktoken_counter(encoding: str) -> ExactCounter:
    from tuneport.dataset._tiktoken_offline import get_encoding

    enc = get_encoding(encoding)
    if encoding in SEGMENTABLE_ENCODINGS:
        # Pure Python dict lookups: run them in the caller's thread (they hold the GIL).
        return ExactCounter(f"tiktoken:{encoding}", 3, 1, 3, True,
                            SegmentCounter(enc.encode_ordinary).lengths, releases_gil=False)
    encode = enc.encode_ordinary

    def lengths(texts: list[str]) -> list[int]:
        return [len(encode(t)) for t in texts]

    return ExactCounter(f"tiktoken:{encoding}", 3, 1, 3, True, lengths)


def _hf_counter(label: str, backend: Any, hf_tok: Any | None) -> ExactCounter:
    """Wrap a ``tokenizers.Tokenizer``; measure the chat template overhead if there is one."""

    def lengths(texts: list[str]) -> list[int]:
        return [len(e.ids) for e in backend.encode_batch(texts, add_special_tokens=False)]

    per_message, per_example = APPROX_PER_MESSAGE, APPROX_PER_EXAMPLE
    if hf_tok is not None and getattr(hf_tok, "chat_template", None):
        try:
            per_message, per_example = _template_overhead(hf_tok, lengths)
        except Exception as exc:  # a template that needs other variables: keep the defaults
            log.debug("could not measure the chat template overhead: %s", exc)
    return ExactCounter(label, per_message, 0, per_example, False, lengths)


def _template_overhead(hf_tok: Any, lengths: Any) -> tuple[int, int]:
    """Per-message and per-example template tokens from two probe conversations."""
    one = [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi there"}]
    two = [*one, {"role": "user", "content": "thanks"}, {"role": "assistant", "content": "ok"}]

    def tokens(msgs: list[dict[str, str]]) -> int:
        ids = hf_tok.apply_chat_template(msgs, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "keys"):
            ids = ids["input_ids"]
        return len(ids)

    c1 = sum(lengths([m["content"] for m in one]))
    c2 = sum(lengths([m["content"] for m in two]))
    t1, t2 = tokens(one), tokens(two)
    per_message = max(0, round((t2 - c2 - (t1 - c1)) / 2))
    per_example = max(0, t1 - c1 - 2 * per_message)
    return per_message, per_example


def _has_chat_template(folder: Path) -> bool:
    if (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file():
        return True
    config = folder / "tokenizer_config.json"
    try:
        return "chat_template" in json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False


def _hf_from_folder(folder: Path) -> ExactCounter | None:
    tok_json = folder / "tokenizer.json"
    if tok_json.is_file() and not _has_chat_template(folder):
        # No template to measure: the tokenizers library alone is enough (and fast to import).
        from tokenizers import Tokenizer

        return _hf_counter(f"hf:{folder}", Tokenizer.from_file(str(tok_json)), None)
    import transformers

    hf_tok = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    backend = getattr(hf_tok, "backend_tokenizer", None)
    return None if backend is None else _hf_counter(f"hf:{folder}", backend, hf_tok)


def _hf_from_gguf(path: Path) -> ExactCounter | None:
    from transformers import AutoTokenizer

    hf_tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    backend = getattr(hf_tok, "backend_tokenizer", None)
    return None if backend is None else _hf_counter(f"gguf:{path.name}", backend, hf_tok)


def _hf_from_cache(repo: str) -> ExactCounter | None:
    """The tokenizer of ``repo`` if the Hugging Face cache holds it (never downloads)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = try_to_load_from_cache(repo, "tokenizer.json")
    if not isinstance(found, str):
        return None
    counter = _hf_from_folder(Path(found).parent)
    if counter is not None:
        counter.label = f"hf:{repo}"
    return counter


@functools.lru_cache(maxsize=16)
def counter_for(spec: str) -> Counter:
    """The counter for a tokenizer spec, falling back to the approximation when unavailable.

    Args:
        spec: ``tiktoken:<encoding>``, ``hf:<repo id>``, ``path:<folder>``, ``gguf:<file>``
            or ``approx``.
    """
    kind, _, arg = spec.partition(":")
    counter: ExactCounter | None = None
    try:
        if kind == "tiktoken":
            counter = _tiktoken_counter(arg)
        elif kind == "path":
            counter = _hf_from_folder(Path(arg))
        elif kind == "gguf":
            counter = _hf_from_gguf(Path(arg))
        elif kind == "hf":
            counter = _hf_from_cache(arg)
    except Exception as exc:  # any failure to load a tokenizer degrades to the estimate
        log.warning("tokenizer %s unavailable (%s); using the approximation", spec, exc)
        counter = None
    return counter if counter is not None else ApproxCounter()
