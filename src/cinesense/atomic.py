"""Files that are either all there or not changed: written to a temporary file beside the target,
flushed to disk, then renamed over it. A kill, a full disk or a failed write leaves the previous
version (or nothing), never a torn file. An error removes the temporary file; SIGKILL leaves it
(hidden: ``.NAME.XXXX.tmp`` beside NAME), for no process is left to remove it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

_UMASK = os.umask(0o022)  # read once, at import (setting it is process-wide), and put back
os.umask(_UMASK)


@contextmanager
def atomic_open(path: str | Path, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """``open(path, mode)`` whose content replaces ``path`` only when the block ends without error.

    ``mode`` is "w" or "wb" (``kwargs`` go to :func:`open`: encoding, newline). The folder is
    created. The folder itself is not fsynced: after a power cut the rename may be lost, leaving
    the previous version, which is as consistent.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, mode, **kwargs) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp makes 0600; the output is an ordinary file
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
