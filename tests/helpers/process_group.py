"""Run cooperating child processes with a deadline, and always clean them up.

Each child starts its own session (process group). Whatever happens in the parent (timeout,
error, KeyboardInterrupt), every group still alive is killed with SIGKILL before
:func:`run_group` returns or raises, so no worker or grandchild outlives a test.

    >>> [r.returncode for r in run_group([["python3", "-c", "print(1)"]], timeout=30)]
    [0]
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass
class Finished:
    """One child's exit status and combined stdout/stderr."""

    returncode: int
    output: str


class GroupTimeout(RuntimeError):
    """The children did not all finish in time; all were killed."""


def free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports free on 127.0.0.1 now (all held open while they are chosen)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the group outlives its leader: kill it anyway
    except ProcessLookupError:
        pass
    proc.wait()


def _text(log) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")


def run_group(
    commands: Sequence[Sequence[str]],
    timeout: float,
    envs: Sequence[Mapping[str, str]] | None = None,
    cwd: str | None = None,
) -> list[Finished]:
    """Start every command at once, wait up to ``timeout`` seconds for all, return the results.

    Raises :class:`GroupTimeout` (with the end of each child's output) when time runs out.
    Every child's process group is killed in all cases.
    """
    envs = envs or [os.environ] * len(commands)
    procs: list[subprocess.Popen] = []
    logs = [tempfile.TemporaryFile() for _ in commands]
    try:
        for command, env, log in zip(commands, envs, logs, strict=True):
            procs.append(
                subprocess.Popen(
                    list(command),
                    env=dict(env),
                    cwd=cwd,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + timeout
        for proc in procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                tails = " | ".join(_text(log)[-1500:] for log in logs)
                raise GroupTimeout(
                    f"{len(procs)} processes did not finish within {timeout:.0f} s; "
                    f"killed them. Output: {tails}"
                ) from None
        return [Finished(p.returncode, _text(log)) for p, log in zip(procs, logs, strict=True)]
    finally:
        for proc in procs:
            _kill_group(proc)
        for log in logs:
            log.close()
