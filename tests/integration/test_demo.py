"""`ftcore demo --quick` end to end, as a user runs it: a subprocess in a fresh folder.

Its outputs must exist and load with plain TensorFlow / Keras, its TensorBoard event files
must carry the expected tags, fine-tuning must beat from-scratch, and the same seed must
give the same accuracies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def run_demo(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        [sys.executable, "-m", "ftcore.app.cli", "demo", "--quick", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip


@pytest.fixture(scope="module")
def demo(tmp_path_factory, pretrained):  # pretrained: build fixtures once, outside the timing
    cwd = tmp_path_factory.mktemp("demo")
    proc = run_demo(cwd, "--output", "run1")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return cwd, proc, json.loads((cwd / "run1" / "summary.json").read_text())


def event_tags(log_dir: Path) -> set[str]:
    tags = set()
    for f in log_dir.rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(f)):
            tags.update(v.tag for v in event.summary.value)
    return tags


def test_prints_progress_and_a_summary_table(demo):
    _, proc, summary = demo
    out = proc.stdout
    for heading in ["1. Keras path", "2. Graph path", "3. Freeze, verify, predict", "4. Summary"]:
        assert heading in out
    assert "Epoch 1/" in out  # Keras progress while it trains
    assert "fine-tuned acc" in out and "restore plan:" in out
    assert f"{summary['keras']['finetuned_accuracy']:.3f}" in out


def test_fine_tuning_beats_from_scratch(demo):
    _, _, summary = demo
    for path in ("keras", "graph"):
        fine, scratch = summary[path]["finetuned_accuracy"], summary[path]["scratch_accuracy"]
        print(f"{path}: fine-tuned {fine:.3f} vs scratch {scratch}")
        assert fine > scratch["as_built"] + 0.15
    # The graph's batch-statistics baseline is strong, and fine-tuning still wins. Keras' tuned
    # baseline is reported, not asserted: on this easy task it can overtake (see README).
    assert (
        summary["graph"]["finetuned_accuracy"]
        > summary["graph"]["scratch_accuracy"]["tuned_bn"] + 0.03
    )


def test_checkpoints_and_models_load(demo):
    cwd, _, summary = demo
    names = dict(tf.train.list_variables(str(Path(cwd, summary["graph"]["checkpoint"]).parent)))
    assert names["MobilenetV2/expanded_conv_14/project/weights"] == [1, 1, 336, 56]
    assert any(n.startswith("finetune_layers/") for n in names)
    model = keras.saving.load_model(cwd / summary["keras"]["model_path"])
    assert model.output_shape == (None, 5)
    assert list((cwd / summary["keras"]["checkpoints"]).glob("best.keras"))


@pytest.mark.parametrize("which", ["keras_pb", "graph_pb"])
def test_frozen_graphs_load_and_have_no_variables(demo, which):
    cwd, _, summary = demo
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString((cwd / summary["export"][which]).read_bytes())
    ops = {n.op for n in graph_def.node}
    assert "Placeholder" in ops and not ops & {"VarHandleOp", "VariableV2", "ReadVariableOp"}
    with tf.Graph().as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    assert summary["export"]["inference"][which.split("_")[0]]["frozen_accuracy"] == pytest.approx(
        summary[which.split("_")[0]]["finetuned_accuracy"], abs=0.01
    )


def test_tensorboard_events_have_the_expected_tags(demo):
    cwd, _, summary = demo
    graph_tags = event_tags(cwd / summary["graph"]["logs"])
    assert "summaries/loss" in graph_tags or "loss" in graph_tags
    assert any("finetune_layers" in t for t in graph_tags)
    assert any("MobilenetV2" in t for t in graph_tags)  # frozen base weights, to see they stay
    keras_tags = event_tags(cwd / summary["keras"]["logs"])
    assert any("loss" in t for t in keras_tags)
    assert any("head_" in t for t in keras_tags) and any("conv" in t for t in keras_tags)


def test_refuses_to_overwrite_a_previous_run(demo):
    cwd, _, _ = demo
    before = sorted(p.name for p in (cwd / "run1").iterdir())
    proc = run_demo(cwd, "--output", "run1")
    assert proc.returncode == 1
    assert "already exists and is not empty" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in (cwd / "run1").iterdir()) == before


def test_same_seed_same_accuracies(demo):
    cwd, _, first = demo
    proc = run_demo(cwd, "--output", "run2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    second = json.loads((cwd / "run2" / "summary.json").read_text())
    for path in ("keras", "graph"):
        for key in ("finetuned_accuracy", "scratch_accuracy"):
            assert second[path][key] == first[path][key]
    assert np.isfinite(second["seconds"])
