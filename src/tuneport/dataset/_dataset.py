"""The ``Dataset`` object: a lazy handle on a source, validated, counted and rendered."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from tuneport._exceptions import DatasetError, ValidationFailedError
from tuneport._models import RenderedDataset
from tuneport.dataset import _validate
from tuneport.dataset._canonical import build_example
from tuneport.dataset._checks import RecordChecker, detect_format
from tuneport.dataset._examples import Example
from tuneport.dataset._lines import BlankRun
from tuneport.dataset._readers import HFSource, JsonlSource, RecordsSource, Source
from tuneport.dataset._render import RENDERERS, wire_format
from tuneport.dataset._report import DEFAULT_MAX_ISSUES_PER_CODE, TokenStats, ValidationReport
from tuneport.dataset._targets import TARGETS, check_targets, rules_for

__all__ = ["Dataset", "count_tokens"]


def _ignore(*_args: Any, **_kwargs: Any) -> None:
    """An issue sink for passes that only want the usable records."""


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class Dataset:
    """A fine-tuning dataset: read lazily from a file, Python records or a HF dataset.

    Nothing is loaded whole: every operation streams over the source again.

    Example:
        >>> ds = Dataset.from_records([{"messages": [
        ...     {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}])
        >>> ds.validate(targets=("local",)).ok
        True
    """

    def __init__(self, source: Source) -> None:
        self._source = source
        self._fingerprint: tuple[Any, str] | None = None
        #: Hashes of the examples :meth:`split` held out from this (training) part.
        self.heldout_hashes: frozenset[str] = frozenset()

    # -- constructors -------------------------------------------------------------------

    @classmethod
    def from_jsonl(cls, path: str | Path) -> Dataset:
        """A dataset read from a ``.jsonl`` or gzip-compressed ``.jsonl.gz`` file.

        Raises:
            DatasetError: the file does not exist or is not a file.
        """
        return cls(JsonlSource(path))

    @classmethod
    def from_records(cls, records: Iterable[dict[str, Any]]) -> Dataset:
        """A dataset from Python dicts, one per example (a one-shot iterator is listed)."""
        return cls(RecordsSource(records))

    @classmethod
    def from_hf(cls, hf_dataset: Any) -> Dataset:
        """A dataset from a Hugging Face ``datasets.Dataset`` (one split)."""
        return cls(HFSource(hf_dataset))

    def __repr__(self) -> str:
        return f"Dataset({self._source.describe()})"

    @property
    def path(self) -> Path | None:
        """The file behind the dataset, if any."""
        return self._source.path if isinstance(self._source, JsonlSource) else None

    # -- reading ------------------------------------------------------------------------

    def _walk(self) -> Iterator[tuple[int, str | None, Any]]:
        """(line, format, object) for usable records; (line, None, raw) for the others."""
        checker = RecordChecker({t: rules_for(t) for t in TARGETS}, _ignore)
        scratch: list[str] = []
        file_format: str | None = None
        for line, item in self._source:
            obj = item
            if type(item) is BlankRun:
                continue
            if type(item) is bytes:
                if not item.strip():
                    continue
                try:
                    obj = json.loads(item)
                except (ValueError, RecursionError):
                    yield line, None, item
                    continue
            else:
                # Python records may hold what JSON cannot (bytes, sets, NaN): not usable.
                try:
                    unusable = _validate.upload_problem(obj) is not None
                except RecursionError:
                    unusable = True
                if unusable:
                    yield line, None, repr(type(item)).encode()
                    continue
            if not isinstance(obj, dict):
                yield line, None, item
                continue
            fmt = detect_format(obj)
            if fmt is not None and file_format is None:
                file_format = fmt
            try:
                usable = fmt is not None and fmt == file_format and \
                    checker.check(obj, fmt, line, scratch) >= 0
            except RecursionError:
                usable = False
            if not usable:
                scratch.clear()
                yield line, None, item
                continue
            scratch.clear()
            yield line, fmt, obj

    def iter_examples(self) -> Iterator[Example]:
        """The usable examples in canonical form, each with its source ``line``.

        Records that cannot form an example (invalid JSON, wrong types, another format than
        the file's) are skipped; ``validate`` reports them.
        """
        for line, fmt, obj in self._walk():
            if fmt is not None:
                yield build_example(obj, fmt, line)

    @property
    def fingerprint(self) -> str:
        """sha256 (hex) of the canonical form: the same for the same examples whatever the
        whitespace or key order of the source; unusable lines count by their raw content."""
        key: Any = None
        if isinstance(self._source, JsonlSource):
            key = self._source.stat_key()
        if self._fingerprint is not None and key is not None and self._fingerprint[0] == key:
            return self._fingerprint[1]
        h = hashlib.sha256()
        for _line, fmt, obj in self._walk():
            if fmt is None:
                raw = obj if isinstance(obj, bytes) else repr(obj).encode("utf-8", "replace")
                h.update(b"!" + hashlib.sha256(raw.strip()).digest())
            else:
                data = build_example(obj, fmt, 0).to_dict()
                h.update(json.dumps(data, sort_keys=True, ensure_ascii=False,
                                    separators=(",", ":")).encode("utf-8", "surrogatepass"))
            h.update(b"\n")
        digest = h.hexdigest()
        if key is not None:
            self._fingerprint = (key, digest)
        return digest

    def split(self, validation: float = 0.1, seed: int = 0) -> tuple[Dataset, Dataset]:
        """Set examples aside for evaluation: ``(train, heldout)``.

        Deterministic (same data and seed, same split) and stratified by length (the
        held-out part has short and long examples in the same proportions as the whole).
        Fine-tuning with a client records the held-out examples in the ledger, and later
        training data that contains one is refused (``allow_overlap=True`` to override).

        Args:
            validation: the share to hold out (at least one example, at most all but one).
            seed: the draw's seed.

        Raises:
            ConfigError: ``validation`` is not between 0 and 1.
            DatasetError: fewer than two usable examples.
        """
        from tuneport.dataset._split import example_hash, split_dataset

        train, heldout = split_dataset(self, validation, seed)
        # The pair remembers its held-out part: a client fine-tuning on ``train`` records
        # these hashes in the ledger before anything else can train on them.
        train.heldout_hashes = frozenset(example_hash(e) for e in heldout.iter_examples())
        return train, heldout

    # -- validation ---------------------------------------------------------------------

    def validate(
        self,
        targets: Iterable[str] | str = TARGETS,
        model: str | None = None,
        *,
        max_issues_per_code: int = DEFAULT_MAX_ISSUES_PER_CODE,
        count_tokens: bool = True,
        workers: int | None = None,
    ) -> ValidationReport:
        """Check every record against the generic rules and each target's rules.

        One streaming pass collects every problem (never stopping at the first) and counts
        tokens per target.

        Args:
            targets: any of ``openai``, ``together``, ``fireworks``, ``local``.
            model: a catalog model name (or for ``local`` a HF id, folder or GGUF file); it
                sets the tokenizer and the per-example token limit of the targets that know it.
            max_issues_per_code: issues kept per code (counts stay exact).
            count_tokens: False skips tokenization (faster; no token statistics).
            workers: processes for a large uncompressed JSONL file, this one included
                (the report is the same); None: one per core (up to four) from 32 MB on, or
                ``TUNEPORT_VALIDATE_WORKERS``; 1: this process only.

        Raises:
            UnknownProviderError: an unknown target (with suggestions).
            UnknownModelError: no chosen target knows ``model`` (with suggestions).
        """
        names = (targets,) if isinstance(targets, str) else tuple(targets)
        return _validate.run(self._source, names, model, max_issues_per_code=max_issues_per_code,
                             count=count_tokens, workers=workers)

    # -- rendering ----------------------------------------------------------------------

    def render(self, target: str, directory: Path | str, *,
               validation_fraction: float = 0.0,
               model: str | None = None) -> RenderedDataset:
        """Write the dataset in ``target``'s wire format and fingerprint the bytes.

        Args:
            target: ``openai``, ``together``, ``fireworks`` or ``local``.
            directory: where to write ``<target>-train.jsonl`` (and ``-validation.jsonl``).
            validation_fraction: share of examples (evenly spaced, deterministic) written to
                the validation file instead; 0 writes none.
            model: checked like in :meth:`validate`.

        Raises:
            ValidationFailedError: the dataset has errors for ``target`` (nothing written).
        """
        (target,) = check_targets([target])
        if not 0.0 <= validation_fraction < 1.0:
            raise DatasetError("validation_fraction must be in [0, 1).")
        report = self.validate((target,), model, count_tokens=False)
        if not report.ok_for(target):
            errors = report.errors_for(target)
            first = "; ".join(f"line {i.line}: {i.code}" for i in errors[:3])
            raise ValidationFailedError(
                f"The dataset has {report.errors_by_target.get(target, 0)} error(s) for "
                f"{target} ({first}); run `tuneport validate` for the full report.", report)
        out_dir = Path(directory)
        out_dir.mkdir(parents=True, exist_ok=True)
        train_path = out_dir / f"{target}-train.jsonl"
        val_path = out_dir / f"{target}-validation.jsonl" if validation_fraction else None
        render = RENDERERS[target]
        h = hashlib.sha256()
        n_train = n_bytes = 0
        fmt = report.format
        with _private_file(train_path) as train, \
                (_private_file(val_path) if val_path else _NullWriter()) as val:
            for i, ex in enumerate(self.iter_examples()):
                fmt = wire_format(target, ex)
                try:
                    # Strict: invalid UTF-8 (a lone surrogate) must never reach a provider.
                    data = (_dumps(render(ex)) + "\n").encode("utf-8")
                except UnicodeEncodeError:
                    raise DatasetError(
                        f"Line {ex.line}: text with a lone surrogate cannot be encoded for "
                        "upload (unencodable_text); remove it and validate again."
                    ) from None
                if val_path and int((i + 1) * validation_fraction) > int(i * validation_fraction):
                    val.write(data)
                    continue
                train.write(data)
                h.update(data)
                n_train += 1
                n_bytes += len(data)
        return RenderedDataset(provider=target, path=train_path, fingerprint=h.hexdigest(),
                               n_examples=n_train, n_bytes=n_bytes, format=fmt,
                               validation_path=val_path)


def _private_file(path: Path) -> BinaryIO:
    """``path`` opened for writing, readable by its owner only (0600) whatever the umask.

    A rendered file is a copy of the user's training data.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0),
                 0o600)
    os.fchmod(fd, 0o600)  # a file that existed keeps its old mode through O_TRUNC
    return os.fdopen(fd, "wb")


class _NullWriter:
    def __enter__(self) -> _NullWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def write(self, data: bytes) -> int:
        return len(data)


def count_tokens(dataset: Dataset, target: str, model: str | None = None) -> TokenStats:
    """Token statistics of ``dataset`` for one target, with the per-example counts.

    Args:
        dataset: the dataset.
        target: ``openai``, ``together``, ``fireworks`` or ``local``.
        model: a catalog model name (or for ``local`` a HF id, folder or GGUF file).

    Returns:
        TokenStats with ``per_example`` (and ``per_example_low``/``_high`` when inexact).
    """
    (target,) = check_targets([target])
    report = _validate.run(dataset._source, (target,), model, keep_per_example=True,
                           max_issues_per_code=1)
    return report.tokens[target]
