"""Report files written whole or not at all, never through a symlink someone left in the report dir.

Why: the old temporary name (`.report.json.tmp`) was fixed and opened with O_TRUNC, so a symlink
planted there had the report overwrite its target. The temporary file is now created by
`tempfile.mkstemp` (O_EXCL: a new file of a random name in the report dir, never an existing one)
and renamed over the report (`os.replace` replaces a symlink at the report's name, it does not
write through it).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


@contextlib.contextmanager
def atomic_text(path: Path) -> Iterator[TextIO]:
    """A text file to write; on a clean exit it becomes `path` in one rename, else it is removed."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # as a plain `open` would have made it (mkstemp: 0600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_atomic(path: Path, text: str) -> None:
    with atomic_text(path) as fh:
        fh.write(text)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
