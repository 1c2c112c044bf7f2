"""Atomic output: a file or directory is either complete at its final path or not there at all.

>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "model.pb"
>>> with atomic_path(out) as tmp:
...     _ = tmp.write_bytes(b"graph")
>>> out.read_bytes()
b'graph'
>>> cache = build_once(out.parent / "cache", lambda tmp: (tmp / "w.h5").write_bytes(b"w"))
>>> sorted(p.name for p in cache.iterdir())
['w.h5']

A temporary's name carries its writer's host and process id (``.model.pb.<host>-<pid>.*``):
a process killed mid-write leaves it behind, and the next write to the same place removes it
once that process is gone (temporaries of live processes, or of other hosts sharing the
folder, are left alone).

Fault injection (for tests; costs one ``is None`` check per commit when unset): the
environment variable ``FTCORE_ATOMIC_FAULT``, read at import, names what happens at each
commit boundary (a temporary file or directory complete but not yet renamed: ``staged``;
just renamed into place: ``replaced``), counted from 1 across the process:

- ``trace=FILE`` appends ``<n> <boundary> <final path>`` to ``FILE``;
- ``kill=N`` sends the process SIGKILL at boundary ``N`` (after tracing it, if both are
  given as ``kill=N,trace=FILE``).
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import shutil
import signal
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

FAULT_ENV = "FTCORE_ATOMIC_FAULT"


def _parse_fault(spec: str | None) -> dict[str, str] | None:
    if not spec:
        return None
    fault = dict(part.split("=", 1) for part in spec.split(","))
    unknown = set(fault) - {"kill", "trace"}
    if unknown:
        raise ValueError(
            f"{FAULT_ENV}={spec!r}: unknown key(s) {sorted(unknown)}; use kill=N, trace=FILE"
        )
    return fault


_FAULT = _parse_fault(os.environ.get(FAULT_ENV))
_boundaries = 0


def _boundary(stage: str, path: Path) -> None:
    """A commit boundary: trace it and/or die here when ``FTCORE_ATOMIC_FAULT`` says so."""
    global _boundaries
    if _FAULT is None:
        return
    _boundaries += 1
    if "trace" in _FAULT:
        with open(_FAULT["trace"], "a") as f:
            f.write(f"{_boundaries} {stage} {path}\n")
    if _FAULT.get("kill") == str(_boundaries):
        os.kill(os.getpid(), signal.SIGKILL)


_umask_lock = threading.Lock()
_STATUS = "/proc/self/status"  # Linux; elsewhere umask() falls back to os.umask


def umask() -> int:
    """The process's umask, read without changing it (``Umask:`` of ``/proc/self/status``);
    where that is not available, ``os.umask`` set and restored under a lock (other threads
    creating files in that instant could see umask 0o022)."""
    try:
        with open(_STATUS) as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def file_mode(directory: bool = False) -> int:
    """The mode ``open(..., "w")`` (``mkdir`` when ``directory``) gives a new one now.

    >>> file_mode() == 0o666 & ~umask() and file_mode(True) == 0o777 & ~umask()
    True
    """
    return (0o777 if directory else 0o666) & ~umask()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _owner() -> str:
    """``<host>-<pid>``: who wrote a temporary (part of its name)."""
    return f"{socket.gethostname()}-{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale(directory: Path, prefix: str) -> list[Path]:
    """Remove the temporaries ``<prefix><this host>-<pid>.*`` in ``directory`` whose process
    is gone (killed mid-write); return them."""
    mine = f"{prefix}{socket.gethostname()}-"
    removed = []
    for p in directory.glob(f"{glob.escape(mine)}*"):
        pid = p.name[len(mine) :].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            removed.append(p)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    The temporary file lives in the same directory, so the final ``os.replace`` is atomic.
    On any exception the temporary file is removed and ``path`` is left untouched. ``suffix``
    ends the temporary name, for writers that insist on an extension (Keras: ``".keras"``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path.parent, f".{path.name}.")
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.{_owner()}.", suffix=suffix, dir=path.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        move(tmp, path)
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
    remove_stale(directory, ".ftcore-")
    tmp = Path(tempfile.mkdtemp(prefix=f".ftcore-{_owner()}.", dir=directory))
    try:
        yield tmp
        for f in sorted((p for p in tmp.iterdir() if p.is_file()), key=last):
            move(f, directory / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def move(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """``os.replace(src, dst)`` after giving ``src`` the mode a plain new file (or folder)
    would have (:func:`file_mode`) and flushing it to disk (same file system only).

    Writers that cannot use :func:`atomic_path` (a library writing several files into a
    temporary folder) move each complete file into place with this.
    """
    src, dst = Path(src), Path(dst)
    os.chmod(src, file_mode(src.is_dir()))
    _fsync(src)
    _boundary("staged", dst)
    os.replace(src, dst)
    _fsync(dst.parent)
    _boundary("replaced", dst)
    return dst


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically and return the path."""
    return write_bytes(path, text.encode("utf-8"))


def build_once(
    path: str | os.PathLike,
    build: Callable[[Path], object],
    complete: Callable[[Path], bool] = Path.is_dir,
) -> Path:
    """Create directory ``path`` by ``build(tmp)`` unless ``complete(path)``; return ``path``.

    ``build`` fills an empty temporary directory beside ``path``, which is renamed to
    ``path`` only when ``build`` returns, so ``path`` is complete or absent. Concurrent
    callers (threads or processes) serialize on an ``fcntl.flock`` of ``.<name>.lock``
    beside it: the first builds, the others wait and return the finished directory.
    Temporary directories of killed builds, and a ``path`` that is there but not
    ``complete`` (a stale format), are removed first. Everything in it gets the plain mode
    the umask allows (:func:`file_mode`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        if complete(path):
            return path
        for stale in path.parent.glob(f".{path.name}.*.tmpdir"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmpdir", dir=path.parent))
        try:
            if path.exists():
                os.replace(path, tmp / "stale")
                shutil.rmtree(tmp / "stale")
            build(tmp)
            for f in tmp.rglob("*"):  # plain modes inside too (a builder's own temporaries)
                os.chmod(f, file_mode(f.is_dir()))
                _fsync(f)
            move(tmp, path)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
    return path
