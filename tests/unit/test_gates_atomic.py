"""The liveness probe of ``remove_stale`` bites the right way: a temporary whose writer is
alive but owned by another user ("not permitted" to signal it) is kept, while one whose writer
is gone is removed, by the same unprivileged cleaner."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ftcore import atomic

NOBODY = 65534


def _temporary(directory: Path, pid: int) -> Path:
    path = directory / f".x.{socket.gethostname()}-{pid}.tmp"
    path.write_text("being written")
    return path


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _remove_stale_as_another_user(directory: Path) -> list[str]:
    """``remove_stale`` run by a forked child that dropped to user nobody: what it removed."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no TensorFlow, no pytest, only the probe
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            removed = atomic.remove_stale(directory, ".x.")
            os.write(write, "\n".join(p.name for p in removed).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        out = f.read()
    os.waitpid(pid, 0)
    return [line for line in out.splitlines() if line]


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to another user needs root")
def test_a_live_writer_of_another_user_keeps_its_temporary():
    directory = Path(tempfile.mkdtemp(prefix="ftcore-gates-"))
    try:
        directory.chmod(0o777)  # the unprivileged cleaner may delete what it finds stale
        alive = _temporary(directory, os.getpid())  # this (root) process: alive, not nobody's
        dead = _temporary(directory, _dead_pid())
        removed = _remove_stale_as_another_user(directory)
        assert removed == [dead.name]
        assert alive.exists() and not dead.exists()
    finally:
        for p in directory.iterdir():
            p.unlink()
        directory.rmdir()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may signal every process")
def test_a_process_not_permitted_to_signal_counts_as_alive(tmp_path):
    owner = os.stat("/proc/1").st_uid if Path("/proc/1").exists() else os.getuid()
    if owner == os.getuid():
        pytest.skip("no process of another user is visible to probe (pid 1 is ours)")
    alive = _temporary(tmp_path, 1)
    dead = _temporary(tmp_path, _dead_pid())
    assert atomic.remove_stale(tmp_path, ".x.") == [dead]
    assert alive.exists()
