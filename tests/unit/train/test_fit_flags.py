"""``--class-weights``, ``--augment``, ``--label-smoothing``, ``--early-stopping`` reach the
training: each changes what the run does (same seed, same folder), and is recorded."""

from __future__ import annotations

import json

import pytest

from tests.unit.app.cli_run import cli
from tests.unit.train.folders import backbone_args, image_folder

QUICK1 = ["--cut", "conv_pw_5_relu", "--lr", "0.05", "--batch-size", "8"]


def _imbalanced(root):
    image_folder(root / "a", per_class=16, classes=("ok",))
    image_folder(root / "b", per_class=4, classes=("dented", "scratched"), seed=1)
    for sub in ("a", "b"):
        for cls in (root / sub).iterdir():
            cls.rename(root / cls.name)
        (root / sub).rmdir()
    return root


def _train(capsys, pretrained, data, run, *flags) -> dict:
    argv = ["train", data, *backbone_args(pretrained), *QUICK1, "--output", run, *flags]
    code, _, err = cli(capsys, *argv)
    assert code == 0, err
    report = json.loads((run / "report.json").read_text())
    assert json.loads((run / "config.json").read_text()) == report["configuration"]
    return report


@pytest.mark.slow
def test_class_weights_and_label_smoothing_change_the_training(pretrained, tmp_path, capsys):
    data = _imbalanced(tmp_path / "parts")
    runs = {
        "plain": [],
        "balanced": ["--class-weights", "balanced"],
        "smoothed": ["--label-smoothing", "0.2"],
    }
    reports = {
        k: _train(capsys, pretrained, data, tmp_path / k, "--epochs", "1", *f)
        for k, f in runs.items()
    }
    assert reports["balanced"]["configuration"]["class_weights"] == "balanced"
    assert reports["smoothed"]["configuration"]["label_smoothing"] == 0.2
    assert reports["plain"]["configuration"]["class_weights"] == "none"
    loss = {k: r["stages"][0]["history"]["loss"] for k, r in reports.items()}
    assert loss["balanced"] != loss["plain"] and loss["smoothed"] != loss["plain"], loss
    assert reports["balanced"]["class_counts"] == reports["plain"]["class_counts"]


@pytest.mark.slow
def test_augment_turns_the_cache_off_and_early_stopping_keeps_the_best(
    pretrained, tmp_path, capsys
):
    data = image_folder(tmp_path / "noise", learnable=False)
    flags = ["--epochs", "8", "--lr", "0.5", "--augment", "flip", "--early-stopping", "1"]
    report = _train(capsys, pretrained, data, tmp_path / "run", *flags)
    stage = report["stages"][0]
    assert report["configuration"]["augment"] == "flip"
    assert report["configuration"]["early_stopping"] == 1
    assert stage["cached_features"] is False
    assert any("augment" in b for b in stage["cache_blockers"]), stage["cache_blockers"]
    val_loss = stage["history"]["val_loss"]
    assert len(val_loss) < 8, val_loss  # stopped: 1 epoch without a new best
    best = report["best"]
    assert best["value"] == pytest.approx(min(val_loss))
    assert best["epoch_in_stage"] == val_loss.index(min(val_loss)) + 1
