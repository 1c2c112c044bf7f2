"""fine_tune under MultiWorkerMirroredStrategy: two worker processes on this machine (TF_CONFIG
with loopback addresses and free ports) against the same run in one process.

The cluster runs in child processes (:mod:`tests.helpers.multi_worker_fine_tune`) under
:func:`tests.helpers.process_group.run_group`, which kills every process group on timeout or
failure.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.process_group import GroupTimeout, free_ports, run_group

ROOT = Path(__file__).resolve().parents[3]
TIMEOUT_S = 300
# max |worker - single process| over all weights, seeds 0-4: 6.0e-8, 6.0e-8, 6.0e-8, 7.2e-7,
# 3.0e-8 (float32 rounding: the all-reduce sums two half-batch gradients); workers were
# bitwise equal for every seed. A wrong batch split or gradient scale moves weights by ~1e-2.
TOLERANCE = 1e-5


def _weights(path: Path) -> list[np.ndarray]:
    with np.load(path) as f:
        return [f[f"arr_{i}"] for i in range(len(f.files))]


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory):
    """Two workers and the single-process reference, seed 0: (worker reports, worker weights,
    single report, single weights)."""
    tmp = tmp_path_factory.mktemp("multi_worker")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("TF_CONFIG", None)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    names = ["w0", "w1", "single"]
    commands = [
        [sys.executable, "-m", "tests.helpers.multi_worker_fine_tune", "--out", str(tmp / n)]
        for n in names
    ]
    envs = [
        {
            **env,
            "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}),
        }
        for i in range(2)
    ] + [env]
    results = run_group(commands, TIMEOUT_S, envs, cwd=str(ROOT))
    for name, result in zip(names, results, strict=True):
        assert result.returncode == 0, f"{name} failed:\n{result.output[-3000:]}"
    reports = [json.loads((tmp / f"{n}.json").read_text()) for n in names]
    weights = [_weights(tmp / f"{n}.npz") for n in names]
    return reports[:2], weights[:2], reports[2], weights[2]


@pytest.mark.slow
def test_workers_end_identical_and_equal_to_one_process(cluster_run):
    reports, (w0, w1), single_report, single = cluster_run
    assert [r["replicas"] for r in reports] == [2, 2] and single_report["replicas"] == 1
    for a, b in zip(w0, w1, strict=True):
        np.testing.assert_array_equal(a, b)  # the all-reduce gives both workers the same update
    diff = max(float(np.abs(a - b).max()) for a, b in zip(w0, single, strict=True))
    assert diff <= TOLERANCE, f"max |worker - single process| = {diff:.3g}"


@pytest.mark.slow
def test_two_stages_keep_frozen_layers_and_train_the_rest(cluster_run):
    reports, _, single_report, _ = cluster_run
    for report in reports:
        assert report["trained"] == single_report["trained"]
        assert report["cached"] == [True, True]  # the head cache, then the prefix cache (b0_*)
        moved = report["moved"]
        assert not moved["b0_conv"] and not moved["b0_bn"]  # frozen throughout, BN stats too
        assert moved["b1_conv"] and moved["head_hidden"] and moved["head_logits"]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_run_group_kills_a_hung_group_children_included(tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    hang = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(600)\n"
    )
    start = time.monotonic()
    with pytest.raises(GroupTimeout, match="did not finish within 5 s"):
        run_group([[sys.executable, "-c", hang], [sys.executable, "-c", "print('done')"]], 5)
    assert time.monotonic() - start < 30
    grandchild = int(pid_file.read_text())
    for _ in range(50):  # the killed grandchild is reaped by init
        if not _alive(grandchild):
            break
        time.sleep(0.1)
    assert not _alive(grandchild)
