"""fine_tune under MirroredStrategy on two logical CPU devices, freeze invariants included.

Logical devices must be configured before TensorFlow initialises, so the run happens in a
fresh interpreter (``sys.executable``) and reports JSON back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = r"""
import json, sys
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from tests.helpers.keras_nets import build_net, changed, data_for, snapshot
from ftcore.keras import fine_tune, head_stage, unfreeze_stage
from ftcore.keras.trainable import leaves

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
spec = {"kind": "conv", "blocks": [(3, True, False), (4, False, False)], "head_bn": False}
x, y = data_for(build_net(spec), 32)
out = {"replicas": strategy.num_replicas_in_sync}

def moved(model, before):
    return {p: any(v.values()) for p, v in changed(before, snapshot(model)).items()}

# 1. model built outside the scope (fine_tune clones it in): head-only stage, then unfreeze
#    (with discriminative learning rates: per-variable multipliers on mirrored variables).
model = build_net(spec)
before = snapshot(model)
stage1 = head_stage(2, 0.05, "momentum")
r = fine_tune(model, x, y, [stage1], batch_size=16, shuffle=False, strategy=strategy,
              cache_features=False)
out["stage1_moved"] = moved(model, before)
out["stage1_trained"] = r.stages[0].trained
single = build_net(spec)
fine_tune(single, x, y, [stage1], batch_size=16, shuffle=False, cache_features=False)
out["max_diff_vs_single_device"] = max(
    float(np.max(np.abs(a - b))) for a, b in zip(model.get_weights(), single.get_weights())
)
before = snapshot(model)
r = fine_tune(model, x, y, [unfreeze_stage("b1_conv", 1, 0.05, "adam", discriminative=0.1)],
              batch_size=16, strategy=strategy)
out["stage2_moved"] = moved(model, before)
out["stage2_trained"] = r.stages[0].trained
out["order"] = [p for p, _ in leaves(model)]

# 2. model built inside the scope: trained in place, variables are mirrored.
with strategy.scope():
    inside = build_net(spec)
before = snapshot(inside)
r = fine_tune(inside, x, y, [head_stage(1, 0.05)], batch_size=16, strategy=strategy)
out["inside_mirrored"] = isinstance(inside.weights[0].value, tf.distribute.DistributedValues)
out["inside_moved"] = moved(inside, before)
out["inside_cached"] = r.stages[0].cached
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def distributed_run():
    root = Path(__file__).resolve().parents[3]  # for `tests.helpers`
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=300
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT ") :])


def _check(moved: dict, trained: list[str]):
    for path, did_move in moved.items():
        if path in trained:
            continue
        assert not did_move, f"frozen layer {path} changed under MirroredStrategy"


@pytest.mark.slow
def test_two_replicas_and_head_stage_invariants(distributed_run):
    out = distributed_run
    assert out["replicas"] == 2
    heads = [p for p in out["order"] if p.startswith("head_")]
    assert sorted(out["stage1_trained"]) == sorted(heads)
    _check(out["stage1_moved"], out["stage1_trained"])  # incl. BN moving mean/variance
    assert out["stage1_moved"]["head_logits"] and out["stage1_moved"]["head_hidden"]
    assert out["max_diff_vs_single_device"] < 1e-4  # same math as one device


@pytest.mark.slow
def test_unfreeze_stage_invariants_under_strategy(distributed_run):
    out = distributed_run
    k = out["order"].index("b1_conv")
    assert out["stage2_trained"] == out["order"][k:]
    _check(out["stage2_moved"], out["stage2_trained"])
    assert out["stage2_moved"]["b1_conv"] and not out["stage2_moved"]["b0_conv"]
    assert not out["stage2_moved"]["b0_bn"]


@pytest.mark.slow
def test_model_built_in_scope_is_trained_in_place(distributed_run):
    out = distributed_run
    assert out["inside_mirrored"] is True and out["inside_cached"] is True
    assert out["inside_moved"]["head_logits"] and not out["inside_moved"]["b0_conv"]
