"""Output locations of the CLI checked before anything is computed or written.

A command that will write into a directory (``--out``, ``-o``, ``--static``) calls :func:`writable_dir`
or :func:`writable_file` while it validates its arguments: a path through a file, ``/dev/null``, a
read-only folder or file system, or a folder the user cannot write fails there with ``ValueError``
naming the option and the path, and leaves nothing behind (folders it created for the probe are removed).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def writable_dir(path: Path | str, option: str) -> Path:
    """Make sure ``path`` is a directory this process can write files into (created if missing).

    Raises:
        ValueError: ``path`` (or a parent) is not a directory, or cannot be created or written.
    """
    path = Path(path)
    missing: list[Path] = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    if not probe.is_dir():
        raise ValueError(f"{option} {str(path)!r}: {str(probe)!r} is not a directory")
    created: list[Path] = []
    try:
        for folder in reversed(missing):
            folder.mkdir()
            created.append(folder)
        fd, tmp = tempfile.mkstemp(prefix=".harness-probe-", dir=path)
        os.close(fd)
        os.unlink(tmp)
    except OSError as err:
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise ValueError(f"{option} {str(path)!r}: cannot write there ({err.strerror or err})") from None
    return path


def writable_file(path: Path | str, option: str) -> Path:
    """Make sure ``path`` can be (re)written as a regular file (its directory is checked and created).

    Raises:
        ValueError: ``path`` is a directory or a special file (``/dev/null``), or its folder is not
            writable.
    """
    path = Path(path)
    if path.exists() and not path.is_file():
        raise ValueError(f"{option} {str(path)!r}: not a regular file")
    writable_dir(path.parent, option)
    return path
