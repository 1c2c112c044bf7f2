"""ftcore.atomic: files and directories appear complete or not at all; the fault hook.

In-process and fast (no TensorFlow); the kills of real writers are in tests/faults/."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ftcore import atomic
from ftcore.atomic import FAULT_ENV, atomic_files, atomic_path, build_once, move, write_text


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_atomic_path_replaces_only_on_success(tmp_path):
    out = tmp_path / "sub" / "model.pb"
    with atomic_path(out) as tmp:
        assert tmp.parent == out.parent and tmp.name.startswith(".model.pb.")
        assert tmp.name.endswith(".tmp") and not out.exists()
        tmp.write_bytes(b"new")
    assert out.read_bytes() == b"new" and _names(out.parent) == ["model.pb"]
    with pytest.raises(RuntimeError), atomic_path(out, suffix=".keras") as tmp:
        assert tmp.name.endswith(".keras")
        tmp.write_bytes(b"half")
        raise RuntimeError("writer failed")
    assert out.read_bytes() == b"new" and _names(out.parent) == ["model.pb"]


def test_write_helpers_return_the_path_and_replace(tmp_path):
    out = tmp_path / "a.json"
    assert atomic.write_bytes(out, b"\x00\x01") == out and out.read_bytes() == b"\x00\x01"
    assert write_text(out, "é") == out and out.read_bytes() == "é".encode()
    assert _names(tmp_path) == ["a.json"]


def test_move_replaces_and_returns_the_destination(tmp_path):
    (tmp_path / "src").write_text("new")
    (tmp_path / "dst").write_text("old")
    assert move(tmp_path / "src", tmp_path / "dst") == tmp_path / "dst"
    assert _names(tmp_path) == ["dst"] and (tmp_path / "dst").read_text() == "new"


def test_atomic_files_moves_last_files_last_and_nothing_on_error(tmp_path, monkeypatch):
    log = tmp_path / "trace.log"
    monkeypatch.setattr(atomic, "_FAULT", {"trace": str(log)})  # what FTCORE_ATOMIC_FAULT sets
    with atomic_files(tmp_path / "ckpt", last=lambda p: p.suffix == ".index") as tmp:
        for name in ["m.index", "m.data", "m.meta"]:
            (tmp / name).write_text(name)
    order = [
        Path(line.split()[2]).name for line in log.read_text().splitlines() if "replaced" in line
    ]
    assert order[-1] == "m.index" and sorted(order) == ["m.data", "m.index", "m.meta"]
    assert _names(tmp_path / "ckpt") == ["m.data", "m.index", "m.meta"]
    with pytest.raises(ValueError), atomic_files(tmp_path / "ckpt") as tmp:
        (tmp / "m.index").write_text("half")
        raise ValueError
    assert (tmp_path / "ckpt" / "m.index").read_text() == "m.index"
    assert _names(tmp_path / "ckpt") == ["m.data", "m.index", "m.meta"]


def test_build_once_builds_into_a_temporary_then_renames(tmp_path):
    seen = []

    def build(tmp):
        seen.append(tmp)
        assert tmp.parent == tmp_path / "a" / "b" and tmp.is_dir()
        assert tmp.name.startswith(".cache.") and tmp.name.endswith(".tmpdir")  # cleanup finds it
        assert not (tmp_path / "cache").exists()
        (tmp / "sub").mkdir()
        (tmp / "sub" / "w.bin").write_bytes(b"w")

    root = tmp_path / "a" / "b"  # parents are made
    assert build_once(root / "cache", build) == root / "cache"
    assert build_once(root / "cache", build) == root / "cache"  # there: not rebuilt
    assert len(seen) == 1 and not seen[0].exists()
    assert (root / "cache" / "sub" / "w.bin").read_bytes() == b"w"
    assert _names(root) == [".cache.lock", "cache"]


def test_build_once_failure_leaves_nothing_and_stale_temporaries_go(tmp_path):
    stale = tmp_path / ".cache.abc.tmpdir"
    stale.mkdir()
    (stale / "half.bin").write_bytes(b"h")
    other = tmp_path / ".other.abc.tmpdir"  # another entry's build: not ours to remove
    other.mkdir()

    def failing(tmp):
        (tmp / "half.bin").write_bytes(b"h")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        build_once(tmp_path / "cache", failing)
    assert _names(tmp_path) == [".cache.lock", ".other.abc.tmpdir"]


def test_build_once_replaces_an_incomplete_entry(tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "old-format.bin").write_bytes(b"o")

    def complete(path):
        return (path / "manifest.json").is_file()

    build_once(tmp_path / "cache", lambda tmp: (tmp / "manifest.json").write_text("{}"), complete)
    assert _names(tmp_path / "cache") == ["manifest.json"]
    assert _names(tmp_path) == [".cache.lock", "cache"]


def test_build_once_concurrent_callers_build_once(tmp_path):
    builds, results = [], []

    def build(tmp):
        builds.append(tmp)
        time.sleep(0.2)  # the others arrive while this one holds the lock
        (tmp / "w.bin").write_bytes(b"w")

    threads = [
        threading.Thread(target=lambda: results.append(build_once(tmp_path / "c", build)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1 and results == [tmp_path / "c"] * 3


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, None),
        ("", None),
        ("kill=3", {"kill": "3"}),
        ("kill=2,trace=/tmp/x=y.log", {"kill": "2", "trace": "/tmp/x=y.log"}),
    ],
)
def test_fault_spec_parsing(spec, expected):
    assert atomic._parse_fault(spec) == expected


def test_fault_spec_with_an_unknown_key_is_refused():
    with pytest.raises(ValueError, match=r"FTCORE_ATOMIC_FAULT='pause=1'.*\['pause'\]"):
        atomic._parse_fault("pause=1")


def _child(code: str, fault: str, directory: Path) -> subprocess.CompletedProcess:
    """Run ``code`` (``sys.argv[1]`` is ``directory``) with the ``ftcore`` under test, not
    whichever one is installed (mutation testing runs a mutated copy)."""
    here = Path(atomic.__file__).parents[1]
    env = {**os.environ, FAULT_ENV: fault, "PYTHONPATH": str(here)}
    cmd = [sys.executable, "-c", code, str(directory)]
    return subprocess.run(cmd, cwd=here, env=env, capture_output=True)


WRITE_TWO = (
    "import sys; from pathlib import Path; from ftcore.atomic import write_text; "
    "d = Path(sys.argv[1]); write_text(d / 'a', 'A'); write_text(d / 'b', 'B')"
)


def test_fault_trace_numbers_every_boundary(tmp_path):
    log = tmp_path / "trace.log"
    assert _child(WRITE_TWO, f"trace={log}", tmp_path).returncode == 0
    assert [line.split(" ", 2)[:2] for line in log.read_text().splitlines()] == [
        ["1", "staged"],
        ["2", "replaced"],
        ["3", "staged"],
        ["4", "replaced"],
    ]
    assert log.read_text().splitlines()[2].endswith(f" {tmp_path / 'b'}")


@pytest.mark.parametrize(("n", "left"), [(1, []), (2, ["a"]), (3, ["a"]), (4, ["a", "b"])])
def test_fault_kill_stops_the_process_at_boundary_n(tmp_path, n, left):
    log = tmp_path / "trace.log"
    run = _child(WRITE_TWO, f"kill={n},trace={log}", tmp_path)
    assert run.returncode == -signal.SIGKILL
    assert len(log.read_text().splitlines()) == n
    assert [p for p in _names(tmp_path) if p in ("a", "b")] == left
    assert all((tmp_path / p).read_text() == p.upper() for p in left)


class _Killed(Exception):
    pass


def test_boundaries_count_one_by_one_and_kill_at_n(tmp_path, monkeypatch):
    """In process, with os.kill recorded instead of delivered (the subprocess tests above
    deliver it): which boundary, which process, which signal."""
    kills = []

    def record_kill(pid, sig):
        kills.append((pid, sig))
        raise _Killed

    log = tmp_path / "trace.log"
    monkeypatch.setattr(atomic, "_FAULT", {"kill": "3", "trace": str(log)})
    monkeypatch.setattr(atomic, "_boundaries", 0)
    monkeypatch.setattr(atomic.os, "kill", record_kill)
    write_text(tmp_path / "a", "A")
    assert kills == []
    with pytest.raises(_Killed):
        write_text(tmp_path / "b", "B")
    assert kills == [(os.getpid(), signal.SIGKILL)]
    lines = [line.split(" ", 2) for line in log.read_text().splitlines()]
    assert lines == [
        ["1", "staged", str(tmp_path / "a")],
        ["2", "replaced", str(tmp_path / "a")],
        ["3", "staged", str(tmp_path / "b")],
    ]
    assert _names(tmp_path) == ["a", "trace.log"]  # b's temporary is gone, b never appeared


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def live_pid():
    """A running process other than this one (signals sent to it by a bug hurt nothing)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield child.pid
    child.kill()
    child.wait()


def _leftovers(directory: Path, prefix: str, live: int) -> dict[str, Path]:
    """Temporaries as killed writers leave them: a dead process, a live one, this process,
    another host; plus a dead one of another target."""
    host = socket.gethostname()
    owners = {
        "dead": f"{host}-{_dead_pid()}",
        "live": f"{host}-{live}",
        "self": f"{host}-{os.getpid()}",
        "other host": f"not-{host}-{_dead_pid()}",
    }
    made = {who: directory / f"{prefix}{owner}.abc123.tmp" for who, owner in owners.items()}
    made["other target"] = directory / f".other.pb.{host}-{_dead_pid()}.x.tmp"
    for p in made.values():
        p.write_bytes(b"half")
    return made


def test_a_write_removes_temporaries_of_dead_writers_only(tmp_path, live_pid):
    out = tmp_path / "model.pb"
    left = _leftovers(tmp_path, ".model.pb.", live_pid)
    with atomic_path(out) as tmp:
        assert tmp.name.startswith(f".model.pb.{socket.gethostname()}-{os.getpid()}.")
        tmp.write_bytes(b"new")
    assert not left["dead"].exists()
    assert all(left[k].exists() for k in ("live", "self", "other host", "other target"))
    assert out.read_bytes() == b"new"


def test_atomic_files_removes_a_dead_writers_folder(tmp_path, live_pid):
    dead = tmp_path / f".ftcore-{socket.gethostname()}-{_dead_pid()}.abc"
    (dead / "sub").mkdir(parents=True)
    (dead / "sub" / "m.index").write_text("half")
    alive = tmp_path / f".ftcore-{socket.gethostname()}-{live_pid}.abc"
    alive.mkdir()
    with atomic_files(tmp_path) as tmp:
        assert tmp.name.startswith(f".ftcore-{socket.gethostname()}-{os.getpid()}.")
        (tmp / "m.index").write_text("new")
    assert _names(tmp_path) == [alive.name, "m.index"]


def test_remove_stale_returns_what_it_removed(tmp_path, live_pid):
    left = _leftovers(tmp_path, ".x.", live_pid)
    assert atomic.remove_stale(tmp_path, ".x.") == [left["dead"]]
    assert atomic.remove_stale(tmp_path, ".x.") == []


_MODES_CHILD = """
import os, sys, tempfile
from pathlib import Path
from ftcore import atomic
out = Path(sys.argv[1])
atomic.write_bytes(out / "a.pb", b"pb")
with atomic.atomic_path(out / "b.keras", suffix=".keras") as tmp:
    tmp.write_bytes(b"keras")
with atomic.atomic_files(out / "ckpt") as tmp:
    (tmp / "m.index").write_bytes(b"i")
def build(tmp):
    fd, name = tempfile.mkstemp(dir=tmp)  # a builder's own 0600 temporary, kept
    os.close(fd)
    os.mkdir(tmp / "sub", 0o700)
    (tmp / "sub" / "w.h5").write_bytes(b"w")
atomic.build_once(out / "entry", build)
"""


@pytest.mark.parametrize(("mask", "file", "folder"), [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)])
def test_outputs_get_the_modes_the_umask_allows(tmp_path, mask, file, folder):
    """Not the 0600/0700 of tempfile's temporaries: what a plain open()/mkdir would give."""
    child = subprocess.run(
        [sys.executable, "-c", f"import os; os.umask({mask}); exec({_MODES_CHILD!r})", tmp_path],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert child.returncode == 0, child.stderr
    modes = {
        str(p.relative_to(tmp_path)): p.stat().st_mode & 0o777
        for p in tmp_path.rglob("*")
        if not p.name.startswith(".")  # build_once's lock file
    }
    entry_files = [p for p in modes if p.startswith("entry/") and p != "entry/sub"]
    assert len(entry_files) == 2
    assert modes == {
        "a.pb": file,
        "b.keras": file,
        "ckpt": folder,
        "ckpt/m.index": file,
        "entry": folder,
        "entry/sub": folder,
        **dict.fromkeys(entry_files, file),
    }


def test_umask_is_read_without_changing_it(monkeypatch):
    old = os.umask(0o027)
    try:
        assert atomic.umask() == 0o027 and atomic.file_mode() == 0o640
        monkeypatch.setattr(atomic, "_STATUS", "/nonexistent/status")  # not Linux: os.umask
        assert atomic.umask() == 0o027 and atomic.file_mode(directory=True) == 0o750
        assert os.umask(0o027) == 0o027  # restored
    finally:
        os.umask(old)
