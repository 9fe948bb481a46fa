"""Writing files atomically: a temporary file in the target folder, then a rename."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["write_atomically"]


def write_atomically(
    path: str | os.PathLike, write: Callable[[str], None], *, suffix: str = ""
) -> None:
    """Call `write(temporary_path)`, then rename the result to `path`.

    A reader never sees a partial file, and a failing `write` leaves an existing file
    untouched and no temporary file behind. The file gets the usual permissions
    (0666 less the umask), not the private ones of a temporary file.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=suffix, dir=target.parent
    )
    os.close(handle)
    try:
        write(temporary)
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
