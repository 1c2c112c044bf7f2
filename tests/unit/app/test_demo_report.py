"""What ``ftcore demo`` prints at the end and writes to ``summary.json``, from step results
(the whole run is tests/integration/test_demo.py)."""

from __future__ import annotations

import json
from pathlib import Path

from ftcore.app.demo import DemoConfig
from ftcore.app.demo_report import build_summary, section, summary_text
from ftcore.app.demo_weights import BUDGETS, Weights
from tests.unit.app.cli_run import row

WEIGHTS = Weights(
    "fixtures", "toy weights", 0.25, 32, Path("k.h5"), Path("slim"), 0.35, 32, 0.03, 0.003,
    "digits 5-9", {"root": "r"},
)  # fmt: skip


def results() -> dict:
    keras = {
        "labels": 50, "held_out": 448, "classes": 5, "finetuned_accuracy": 0.643,
        "scratch_accuracy": {"as_built": 0.201, "tuned_bn": 0.261},
        "model_path": "run/keras/finetuned.keras", "checkpoints": "run/keras/checkpoints",
        "logs": "run/keras/logs",
    }  # fmt: skip
    graph = {
        "finetuned_accuracy": 0.681, "scratch_accuracy": {"as_built": 0.202, "tuned_bn": 0.585},
        "checkpoint": "run/graph/checkpoint/model.ckpt-60", "logits": "finetune_layers/logits:0",
        "restore_plan": {"to_restore": 262, "graph_only": 0, "checkpoint_only": 1, "mismatched": 0},
        "logs": "run/graph/logs",
    }  # fmt: skip
    inference = {
        "keras": {"frozen_accuracy": 0.643, "restored_img_s": 2793.4, "frozen_img_s": 15538.2},
        "graph": {"frozen_accuracy": 0.681, "restored_img_s": 1111.0, "frozen_img_s": 6463.0},
    }
    export = {"keras_pb": "run/k.pb", "graph_pb": "run/g.pb", "inference": inference}
    return {"keras": keras, "graph": graph, "export": export}


def test_summary_table_has_one_row_per_path_with_its_figures():
    config = DemoConfig(quick=True, offline=True)
    summary = build_summary(config, BUDGETS["fixtures", True], WEIGHTS, results(), "run", 1.5)
    assert json.loads(json.dumps(summary)) == summary  # summary.json holds it as it is
    assert summary["config"]["budget"]["head_epochs"] == 12 and summary["seconds"] == 1.5
    text = summary_text(summary)
    keras_row = ("Keras MobileNet 0.25 32px @conv_dw_6_relu", "0.643", "0.201", "0.261")
    assert row(text, *keras_row, "15538", "2793")
    graph_row = ("slim MobileNetV2 0.35 32px @expanded_conv_14", "0.681", "0.202", "0.585")
    assert row(text, *graph_row, "6463", "1111")
    assert "50 labelled training images, 448 held out (chance 0.20)" in text
    assert "restore plan: 262 restored, 0 graph-only, 1 checkpoint-only, 0 mismatched" in text
    assert "frozen graphs:     run/k.pb  run/g.pb" in text


def test_section_headings_are_74_wide():
    said: list[str] = []
    section(said.append, "2. Graph path (TF1 checkpoint)")
    assert said[0] == "" and said[1].startswith("== 2. Graph path (TF1 checkpoint) ==")
    assert len(said[1]) == 74
