"""Fuzzing helpers: a loader worker process watched for crashes and hangs, byte mutations of
valid files as a hypothesis strategy, and a snapshot of folders to prove nothing was written.

Used by ``tests/unit/test_fuzz_loaders.py``: ``Worker(cwd).run("load_graph_def", path)``
returns ``{"outcome": "ok" | "error" | "crash" | "hang", ...}``.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
from pathlib import Path

from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
#: Seconds a loader may take on one fuzzed file before it counts as hung (a loaded 2-core CI
#: machine included: the slowest loader, a full restore, takes about 3 s there).
HANG_S = float(os.environ.get("FTCORE_FUZZ_HANG_S", "120"))


@st.composite
def mutated(draw, data: bytes) -> bytes:
    """``data`` truncated, with bytes flipped, with a run overwritten, or with bytes inserted."""
    n = len(data)
    how = draw(st.sampled_from(["truncate", "flip", "overwrite", "insert"]))
    if how == "truncate":
        return data[: draw(st.integers(0, n - 1))]
    buf = bytearray(data)
    if how == "flip":
        for i in draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=16)):
            buf[i] ^= draw(st.integers(1, 255))
    elif how == "overwrite":
        start = draw(st.integers(0, n - 1))
        run = draw(st.binary(min_size=1, max_size=64))
        buf[start : start + len(run)] = run
    else:
        at = draw(st.integers(0, n))
        buf[at:at] = draw(st.binary(min_size=1, max_size=64))
    return bytes(buf)


def snapshot(*folders: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folders``: path -> (size, mtime_ns)."""
    found = {}
    for folder in folders:
        for p in Path(folder).rglob("*"):
            if p.is_file():
                st_ = p.stat()
                found[str(p)] = (st_.st_size, st_.st_mtime_ns)
    return found


class Worker:
    """A ``tests.helpers.loader_worker`` process; :meth:`run` returns its reply, or
    ``{"outcome": "hang"}`` after :data:`HANG_S` / ``{"outcome": "crash"}`` if it died (the
    worker is then replaced). Its working directory is ``cwd`` (watched for stray files)."""

    def __init__(self, cwd: Path):
        self.cwd = Path(cwd)
        self.proc: subprocess.Popen | None = None
        self.stderr = tempfile.TemporaryFile()
        self.loaders: list[str] = []

    def _start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.helpers.loader_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            cwd=self.cwd,
            env=env,
            text=True,
        )
        ready = self._read(600)
        if not ready or "ready" not in ready:
            raise RuntimeError(f"loader worker did not start: {ready} {self._stderr_tail()}")
        self.loaders = ready["ready"]

    def _read(self, timeout: float) -> dict | None:
        readable, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not readable:
            return None
        line = self.proc.stdout.readline()
        return json.loads(line) if line else {"outcome": "crash"}

    def _stderr_tail(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")[-1500:]

    def run(self, loader: str, path: Path) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        self.proc.stdin.write(json.dumps({"loader": loader, "path": str(path)}) + "\n")
        self.proc.stdin.flush()
        reply = self._read(HANG_S)
        if reply is None or reply.get("outcome") == "crash":
            self.proc.kill()
            self.proc.wait()
            reply = {
                "outcome": "crash" if reply else "hang",
                "returncode": self.proc.returncode,
                "stderr": self._stderr_tail(),
            }
            self.proc = None
        return reply

    def close(self) -> None:
        if self.proc is not None:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)
        self.stderr.close()
