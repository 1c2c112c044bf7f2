"""The whole run in-process (``ftcore.train.train``) on real folders of images with the tiny
test backbone: determinism, the accuracy gate refusing, and --resume after a real SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ftcore.app.cli import main
from ftcore.train import AccuracyGateError, TrainConfig, train
from tests.unit.train.folders import QUICK, STAGE2, backbone_args, image_folder

ROOT = Path(__file__).resolve().parents[3]


def _config(pretrained, data, out, **kwargs) -> TrainConfig:
    base = {
        "backbone": "MobileNet",
        "weights": str(pretrained.keras_weights),
        "alpha": pretrained.keras_alpha,
        "image_size": pretrained.image_size,
        "cut": "conv_pw_5_relu",
        "epochs": 2,
        "lr": 0.05,
        "batch_size": 8,
    }
    return TrainConfig(str(data), output=str(out), **{**base, **kwargs})


@pytest.mark.slow
def test_same_seed_twice_same_split_and_validation_accuracy(pretrained, tmp_path):
    data = image_folder(tmp_path / "parts")
    reports = [
        train(_config(pretrained, data, tmp_path / f"run{i}"), log=lambda s: None) for i in (0, 1)
    ]
    from tensorflow.python.framework import config as tf_config

    assert not tf_config.is_op_determinism_enabled()  # restored after each run
    split = [(tmp_path / f"run{i}" / "split.json").read_bytes() for i in (0, 1)]
    assert split[0] == split[1]
    accuracy = [round(r["validation"]["accuracy"], 3) for r in reports]
    assert accuracy[0] == accuracy[1]
    assert reports[0]["stages"][0]["history"] == reports[1]["stages"][0]["history"]
    other = train(_config(pretrained, data, tmp_path / "seed1", seed=1), log=lambda s: None)
    assert (tmp_path / "seed1" / "split.json").read_bytes() != split[0]  # the seed matters
    assert other["class_counts"] == reports[0]["class_counts"]


@pytest.mark.slow
def test_accuracy_gate_refuses_before_exporting(pretrained, tmp_path):
    data = image_folder(tmp_path / "noise", learnable=False)
    run = tmp_path / "run"
    with pytest.raises(AccuracyGateError, match=r"below --assert-accuracy-at-least 0\.99"):
        train(_config(pretrained, data, run, assert_accuracy_at_least=0.99), log=lambda s: None)
    assert not any((run / f).exists() for f in ("model.pb", "model.tflite", "labels.txt"))
    assert (run / "FAILED").read_text().startswith("ftcore train stopped: validation accuracy")
    report = json.loads((run / "report.json").read_text())
    assert report["status"] == "refused" and report["gate"]["passed"] is False
    assert report["validation"]["accuracy"] < 0.99
    assert (run / "best.keras").is_file()  # the trained model is kept, only not exported
    said: list[str] = []  # FAILED says: resume; with a lower floor it exports, training nothing
    again = train(
        _config(pretrained, data, run, resume=True, assert_accuracy_at_least=0.0), said.append
    )
    assert again["status"] == "exported" and (run / "model.tflite").is_file()
    assert not any(line.startswith("stage ") for line in said) and not (run / "FAILED").exists()
    assert again["validation"]["accuracy"] == report["validation"]["accuracy"]


def _start(argv: list[str]) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-m", "ftcore.app.cli", *argv]
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def _kill_after_epochs(proc: subprocess.Popen, history: Path, n: int, timeout: float = 240) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout and proc.poll() is None:
        if history.is_file() and history.read_text().count("\n") >= n:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return
        time.sleep(0.02)
    proc.kill()
    out = proc.communicate()[0].decode(errors="replace")
    pytest.fail(f"the run did not reach {n} epochs (exit {proc.returncode}):\n{out[-3000:]}")


@pytest.mark.slow
def test_resume_after_sigkill_same_split_changed_folder_refused(pretrained, tmp_path, capsys):
    data = image_folder(tmp_path / "parts")
    run = tmp_path / "run"
    argv = ["train", data, *backbone_args(pretrained), *QUICK, *STAGE2, "--output", run]
    argv = [str(a) for a in argv]
    argv[argv.index("--epochs") + 1] = "40"  # long enough to be killed inside stage 1
    _kill_after_epochs(_start(argv), run / "history.jsonl", 2)
    split_before = (run / "split.json").read_bytes()
    assert not (run / "report.json").exists() and not (run / "model.pb").exists()

    code = main([*argv])  # without --resume: refused, nothing touched
    assert code == 1 and "never overwrites a run" in capsys.readouterr().err

    extra = data / "ok" / "new.png"
    image_folder(tmp_path / "other", per_class=1, seed=99)
    (tmp_path / "other" / "ok" / "0.png").replace(extra)
    assert main([*argv, "--resume"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ftcore train: error: split file ") and "1 file added" in err
    assert "added: ok/new.png" in err
    extra.unlink()

    changed = data / "dented" / "3.jpg"
    keep = changed.read_bytes()
    changed.write_bytes((data / "dented" / "5.jpg").read_bytes())
    assert main([*argv, "--resume"]) == 1
    assert "changed (sha256 differs): dented/3.jpg" in capsys.readouterr().err
    changed.write_bytes(keep)

    other = [*argv, "--resume"]
    other[other.index("--unfreeze-epochs") + 1] = "3"
    assert main(other) == 1
    assert "--unfreeze-epochs: 2 -> 3" in capsys.readouterr().err

    assert main([*argv, "--resume"]) == 0
    out = capsys.readouterr().out
    assert "resuming from" in out and "stage 1/2 (head) epoch 1/40" not in out
    assert (run / "split.json").read_bytes() == split_before
    report = json.loads((run / "report.json").read_text())
    assert [len(s["history"]["loss"]) for s in report["stages"]] == [40, 2]
    assert report["status"] == "exported" and (run / "model.tflite").is_file()
    assert not (run / "FAILED").exists()


@pytest.mark.slow
def test_int8_calibrated_on_train_checked_on_validation_and_a_test_split(pretrained, tmp_path):
    from ftcore.export import read_sidecar

    data = image_folder(tmp_path / "parts")
    config = _config(pretrained, data, tmp_path / "run", int8=True, test_split=0.2)
    report = train(config, log=lambda s: None)
    sidecar = read_sidecar(tmp_path / "run" / "model.tflite")
    assert sidecar.inputs[0].dtype == "int8" and sidecar.outputs[0].dtype == "int8"
    figures = report["exports"]["tflite"]["check"]["int8"]
    assert figures["top1_agreement"] >= figures["min_agreement"]
    counts = report["class_counts"]
    assert figures["calibration_images"] == sum(counts["train"].values())
    assert figures["held_out_images"] == sum(counts["validation"].values())
    assert report["test"]["examples"] == sum(counts["test"].values()) == 6  # --test-split 0.2
    print("int8 agreement on validation:", figures)


def test_determinism_is_on_for_the_run_only():
    from tensorflow.python.framework import config as tf_config

    from ftcore.train.workflow import _deterministic

    assert not tf_config.is_op_determinism_enabled()
    with pytest.raises(ValueError), _deterministic(3):
        assert tf_config.is_op_determinism_enabled()
        raise ValueError("a run that fails")
    assert not tf_config.is_op_determinism_enabled()  # later code in the process is unaffected
