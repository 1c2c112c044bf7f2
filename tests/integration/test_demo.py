"""`ftcore demo --quick --offline` end to end, as a user runs it: a subprocess in a fresh folder.

``--offline`` keeps it fast and independent of the registry: the self-built fixtures, and a
message saying so. Its outputs must exist and load with plain TensorFlow / Keras, its
TensorBoard event files must carry the expected tags, the fine-tuned accuracy must be far above
chance and above the as-built from-scratch baselines, and the same seed must give the same
accuracies.

Measured (this demo, seeds 0, 1, 2; 2-core AMD EPYC, load ~9): Keras fine-tuned 0.611 +/- 0.041
(min 0.565), as built 0.196 +/- 0.004; graph fine-tuned 0.697 +/- 0.015 (min 0.681), as built
0.201 +/- 0.000. Another machine's fixtures gave graph 0.475: the asserted margin (0.15 over
the as-built baseline, which predicts one class: chance is 0.20) allows for that. The tuned-BN
baselines overlap fine-tuning on these toy fixtures (0.21-0.59 here, 0.565 there): reported in
the summary, never asserted. The genuine-weights comparison is benchmarks/transfer_study.py.
"""

from __future__ import annotations

import json
import os
import re
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
        [sys.executable, "-m", "ftcore.app.cli", "demo", "--quick", "--offline", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


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
    for heading in [
        "0. Pretrained weights",
        "1. Keras path",
        "2. Graph path",
        "3. Freeze, verify, predict",
        "4. Your own images: ftcore train on a folder",
        "5. Summary",
    ]:
        assert heading in out
    assert "--offline: using the self-built fixtures" in out
    assert summary["weights"]["origin"] == "fixtures"
    assert f"weights: {summary['weights']['description']}" in out
    # progress while it trains (ftcore's per-epoch lines on stderr; cached stages run no Keras fit)
    assert re.search(r"stage 1/2 'head' \(cached features\): 1/\d+ epochs: accuracy", proc.stderr)
    assert "fine-tuned acc" in out and "restore plan:" in out
    assert f"{summary['keras']['finetuned_accuracy']:.3f}" in out
    assert f"  {summary['train']['command']}" in out  # the ftcore train part prints its command
    assert summary["train"]["command"].startswith("ftcore train ")
    assert summary["train"]["validation_accuracy"] >= 0.35  # chance 0.20


def test_fine_tuning_is_far_above_chance_and_the_as_built_baselines(demo):
    _, _, summary = demo
    for path in ("keras", "graph"):
        fine, scratch = summary[path]["finetuned_accuracy"], summary[path]["scratch_accuracy"]
        print(f"{path}: fine-tuned {fine:.3f} vs scratch {scratch}")
        assert fine >= 0.35, f"{path}: fine-tuned {fine:.3f}, chance 0.20"
        assert fine >= scratch["as_built"] + 0.15


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
    assert second["train"]["validation_accuracy"] == first["train"]["validation_accuracy"]
    assert np.isfinite(second["seconds"])
