"""Atomic file output: a file is either complete at its final path or not there at all.

>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "model.pb"
>>> with atomic_path(out) as tmp:
...     _ = tmp.write_bytes(b"graph")
>>> out.read_bytes()
b'graph'
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    The temporary file lives in the same directory, so the final ``os.replace`` is atomic.
    On any exception the temporary file is removed and ``path`` is left untouched. ``suffix``
    ends the temporary name, for writers that insist on an extension (Keras: ``".keras"``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_files(
    directory: str | os.PathLike, last: Callable[[Path], bool] = lambda p: False
) -> Iterator[Path]:
    """Yield a temporary folder inside ``directory``; if the block succeeds, move each file
    written there into ``directory`` (files for which ``last(path)`` is true go last, e.g. a
    checkpoint's ``.index``, which makes the others readable). Each move is atomic; on any
    exception nothing is moved and the temporary folder is removed.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".ftcore-", dir=directory))
    try:
        yield tmp
        for f in sorted((p for p in tmp.iterdir() if p.is_file()), key=last):
            with open(f, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(f, directory / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically and return the path."""
    return write_bytes(path, text.encode("utf-8"))
