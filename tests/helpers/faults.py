"""Kill real writer processes (``tests/faults/writers.py``) and look at what they leave.

Two kinds of kill point: deterministic ones at the commit boundaries that
``FTCORE_ATOMIC_FAULT`` exposes (see :mod:`ftcore.atomic`), and SIGKILL from outside after a
seeded random delay within the writer's measured run time (which lands mid-write too).
``FTCORE_FAULT_SWEEP=all`` kills at every boundary instead of a seeded sample.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ftcore.atomic import FAULT_ENV

ROOT = Path(__file__).resolve().parents[2]


def _env(fault: str | None, extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if fault:
        env[FAULT_ENV] = fault
    return {**env, **(extra or {})}


def writer(*args: str) -> list[str]:
    return [sys.executable, "-m", "tests.faults.writers", *map(str, args)]


def run(cmd: list[str], fault: str | None = None, env: dict | None = None, timeout: float = 300):
    """Run ``cmd`` to its end; return the CompletedProcess (output captured)."""
    return subprocess.run(
        cmd, cwd=ROOT, env=_env(fault, env), capture_output=True, text=True, timeout=timeout
    )


def run_ok(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = run(cmd, **kwargs)
    assert result.returncode == 0, f"{cmd} failed:\n{result.stdout}\n{result.stderr[-3000:]}"
    return result


@dataclass
class Sweep:
    """The kill points of one writer: every boundary it passes (from a traced clean run) and
    its run time; ``tried`` counts the kills made."""

    boundaries: list[tuple[int, str, str]]
    seconds: float
    tried: list[str] = field(default_factory=list)

    def points(self, rng: random.Random, k: int) -> list[int]:
        """``k`` boundary numbers, a seeded sample (all with ``FTCORE_FAULT_SWEEP=all``)."""
        numbers = [n for n, _, _ in self.boundaries]
        if os.environ.get("FTCORE_FAULT_SWEEP") == "all" or k >= len(numbers):
            return numbers
        return sorted(rng.sample(numbers, k))


def trace(cmd: list[str], tmp: Path, env: dict | None = None) -> Sweep:
    """Run ``cmd`` cleanly with boundary tracing; return its boundaries and run time."""
    log = tmp / f"trace-{time.monotonic_ns()}.log"
    t0 = time.perf_counter()
    run_ok(cmd, fault=f"trace={log}", env=env)
    seconds = time.perf_counter() - t0
    lines = log.read_text().splitlines() if log.exists() else []
    boundaries = [(int(n), stage, path) for n, stage, path in (ln.split(" ", 2) for ln in lines)]
    return Sweep(boundaries, seconds)


def kill_at(cmd: list[str], n: int, sweep: Sweep, env: dict | None = None) -> None:
    """Run ``cmd`` and let it SIGKILL itself at boundary ``n``."""
    result = run(cmd, fault=f"kill={n}", env=env)
    assert result.returncode == -signal.SIGKILL, (
        f"expected SIGKILL at boundary {n}, got exit {result.returncode}:\n{result.stderr[-3000:]}"
    )
    sweep.tried.append(f"boundary {n} ({sweep.boundaries[n - 1][1]})")


def kill_after(cmd: list[str], delay: float, sweep: Sweep, env: dict | None = None) -> None:
    """Start ``cmd``, SIGKILL it after ``delay`` seconds (if it is still running)."""
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=_env(None, env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        proc.wait(timeout=delay)
        sweep.tried.append(f"after {delay:.2f}s (finished first)")
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        sweep.tried.append(f"after {delay:.2f}s")


def visible_files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` that a reader would see (no hidden temporaries), by path."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    }


def partial_files(now: dict[str, bytes], *complete: dict[str, bytes]) -> list[str]:
    """Paths in ``now`` whose content equals none of the ``complete`` versions."""
    return sorted(
        path
        for path, data in now.items()
        if not any(version.get(path) == data for version in complete)
    )
