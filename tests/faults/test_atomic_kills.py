"""SIGKILL the atomic writers (a file, a directory cache) at their commit boundaries and at
random moments: every path holds the complete old or the complete new content, and a rerun
succeeds. Two processes filling one cache build it once."""

from __future__ import annotations

import random
import shutil
import subprocess
import time

import pytest

from tests.faults.writers import CACHE_FILES, cache_content
from tests.helpers.faults import (
    ROOT,
    _env,
    kill_after,
    kill_at,
    partial_files,
    run_ok,
    trace,
    visible_files,
    writer,
)

pytestmark = pytest.mark.slow
SIZE = 4_000_000  # bytes per file write: long enough for a random kill to land mid-write
COMPLETE_CACHE = {f"cache/{name}": cache_content(name, n) for name, n in CACHE_FILES.items()}


def test_file_write_killed_anywhere_leaves_old_or_new(tmp_path):
    out = tmp_path / "out" / "model.pb"
    run_ok(writer("file", out, "A", SIZE, 0))
    old = visible_files(tmp_path / "out")
    sweep = trace(writer("file", tmp_path / "new" / "model.pb", "B", SIZE, 0.5), tmp_path)
    new = {"model.pb": (tmp_path / "new" / "model.pb").read_bytes()}
    assert [stage for _, stage, _ in sweep.boundaries] == ["staged", "replaced"]
    rng = random.Random(0)
    found = []
    kills = [("at", n) for n in sweep.points(rng, 2)]
    kills += [("after", rng.uniform(0.05, sweep.seconds)) for _ in range(4)]
    for how, when in kills:
        (tmp_path / "out" / "model.pb").write_bytes(old["model.pb"])
        cmd = writer("file", out, "B", SIZE, 0.5)
        kill_at(cmd, when, sweep) if how == "at" else kill_after(cmd, when, sweep)
        found += partial_files(visible_files(tmp_path / "out"), old, new)
    print(f"file: {len(sweep.tried)} kill points {sweep.tried}; partial files {found}")
    assert found == []
    run_ok(writer("file", out, "B", SIZE, 0))
    assert visible_files(tmp_path / "out") == new
    assert not list(out.parent.glob(".*")), "the rerun removes killed writes' temporaries"


def test_cache_fill_killed_anywhere_is_absent_or_complete_and_refills(tmp_path):
    sweep = trace(writer("cache", tmp_path / "ref" / "cache", 0.5), tmp_path)
    assert [stage for _, stage, _ in sweep.boundaries] == ["staged", "replaced"]
    rng = random.Random(1)
    found = []
    kills = [("at", n) for n in sweep.points(rng, 2)]
    kills += [("after", rng.uniform(0.05, sweep.seconds)) for _ in range(3)]
    for i, (how, when) in enumerate(kills):
        root = tmp_path / f"kill{i}"
        cmd = writer("cache", root / "cache", 0.5)
        kill_at(cmd, when, sweep) if how == "at" else kill_after(cmd, when, sweep)
        now = visible_files(root) if root.exists() else {}
        found += partial_files(now, COMPLETE_CACHE)
        if now:  # the directory is there only complete
            assert now == COMPLETE_CACHE
        out = run_ok(writer("cache", root / "cache", 0.0)).stdout  # the rerun
        assert visible_files(root) == COMPLETE_CACHE
        assert ("building" in out) == (now == {})
        assert not list(root.glob(".*.tmpdir")), "the rerun removes a killed build's temporary"
    print(f"cache: {len(sweep.tried)} kill points {sweep.tried}; partial files {found}")
    assert found == []


def _start(cmd):
    return subprocess.Popen(cmd, cwd=ROOT, env=_env(None), stdout=subprocess.PIPE, text=True)


def test_concurrent_fills_build_once(tmp_path):
    procs = [_start(writer("cache", tmp_path / "cache", 0.5)) for _ in range(3)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0]
    assert sum("building" in out for out in outs) == 1
    assert visible_files(tmp_path) == COMPLETE_CACHE


def test_a_waiting_fill_takes_over_when_the_builder_is_killed(tmp_path):
    builder = _start(writer("cache", tmp_path / "cache", 2.0))
    assert builder.stdout.readline().strip() == "building"  # it holds the lock now
    waiter = _start(writer("cache", tmp_path / "cache", 0.0))
    time.sleep(0.3)
    builder.kill()
    builder.wait()
    out = waiter.communicate(timeout=120)[0]
    assert waiter.returncode == 0 and "building" in out
    assert visible_files(tmp_path) == COMPLETE_CACHE
    shutil.rmtree(tmp_path / "cache")
