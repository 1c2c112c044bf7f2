"""``ftcore train`` run as a user runs it, on real folders of images made here, with the tiny
test backbone (MobileNet alpha 0.25 at 32 px): every bad input gives exit 1, a one-line first
message naming what is wrong, and no run folder; a good folder gives a complete run folder
whose report agrees with an independent reading of its files."""

from __future__ import annotations

import hashlib
import json
import stat

import numpy as np
import pytest
from PIL import Image

from tests.unit.app.cli_run import cli
from tests.unit.data.images import jpeg_bytes
from tests.unit.train.folders import QUICK, STAGE2, backbone_args, image_folder


def _garbled_jpeg() -> bytes:
    """A real JPEG with 1 KiB of its entropy-coded middle replaced by other bytes."""
    jpeg = jpeg_bytes()
    mid = len(jpeg) // 2
    return jpeg[:mid] + bytes(range(256)) * 4 + jpeg[mid + 1024 :]


def _good(root):
    return image_folder(root, per_class=12)


def _with(rel: str, content: bytes | None = None, size=None):
    def make(root):
        _good(root)
        path = root / rel
        if size is not None:
            Image.new("RGB", size, (10, 20, 30)).save(path)
        else:
            path.write_bytes(content)
        return root

    return make


def _empty_class(root):
    image_folder(root, per_class=12, classes=("ok", "scratched"))
    (root / "dented").mkdir()
    (root / "dented" / "notes.txt").write_text("photos to come")
    return root


BAD_INPUT = {  # name: (make the folder, extra flags, first line of stderr, a later line)
    "empty folder": (lambda r: r.mkdir() or r, [], "has no class subfolders", None),
    "one class": (
        lambda r: image_folder(r, classes=("ok",)),
        [],
        "has only one class folder ('ok'): a classifier needs at least two",
        None,
    ),
    "class folder with no images": (_empty_class, [], "dented has no image files", None),
    "truncated JPEG": (
        _with("ok/cut.jpg", jpeg_bytes()[:-200]),
        [],
        "1 bad image file (fix or remove them, or pass --skip-bad to leave them out):",
        "ok/cut.jpg: could not be decoded (truncated or corrupt?): image file is truncated",
    ),
    "corrupt JPEG": (
        _with("ok/garbled.jpg", _garbled_jpeg()),
        [],
        "1 bad image file",
        "ok/garbled.jpg: could not be decoded (truncated or corrupt?)",
    ),
    "text file named .jpg": (
        _with("ok/notes.jpg", b"not a picture"),
        [],
        "1 bad image file",
        "ok/notes.jpg: is not an image in an accepted format",
    ),
    "0-byte file": (
        _with("dented/0b.png", b""),
        [],
        "1 bad image file",
        "dented/0b.png: is empty (0 bytes)",
    ),
    "1x1 image": (
        _with("ok/dot.png", size=(1, 1)),
        [],
        "1 bad image file",
        "ok/dot.png: too small: 1x1",
    ),
    "validation leaves a class empty": (
        lambda r: image_folder(r, per_class=2),
        ["--validation-split", "0.2"],
        "validation fraction 0.2 leaves class 'dented' empty: it has 2 distinct images",
        None,
    ),
    "unknown --cut layer": (
        _good,
        ["--cut", "conv_pw_5_rel"],
        "unknown layer 'conv_pw_5_rel' in mobilenet_0.25_32; closest: 'conv_pw_5_relu'",
        None,
    ),
    "unknown --unfreeze-from layer": (
        _good,
        ["--unfreeze-from", "conv_dw_44"],
        "unknown layer 'conv_dw_44'",
        None,
    ),
    "unknown backbone": (
        _good,
        ["--backbone", "MobileNetV9"],
        "unknown backbone 'MobileNetV9'",
        None,
    ),
    "no weights file": (_good, ["--weights", "/no/such.h5"], "no such file: /no/such.h5", None),
    "unknown --class-weights": (
        _good,
        ["--class-weights", "balancd"],
        "unknown --class-weights 'balancd'; closest: 'balanced'",
        None,
    ),
    "unknown --augment preset": (
        _good,
        ["--augment", "flip-rotat"],
        "unknown --augment preset 'flip-rotat'; closest: 'flip-rotate'",
        None,
    ),
    "label smoothing 1": (_good, ["--label-smoothing", "1"], "in [0, 1), got 1.0", None),
    "early stopping 0": (_good, ["--early-stopping", "0"], "at least 1 epoch, got 0", None),
    "early stopping without validation": (
        _good,
        ["--early-stopping", "2", "--validation-split", "0"],
        "--early-stopping needs a validation split",
        None,
    ),
    "gate above 1": (
        _good,
        ["--assert-accuracy-at-least", "90"],
        "must be in [0, 1], got 90.0",
        None,
    ),
}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_exit_1_one_line_first_no_run_folder(case, pretrained, tmp_path, capsys):
    make, flags, first, later = BAD_INPUT[case]
    data = make(tmp_path / "parts")
    run = tmp_path / "run"
    argv = ["train", data, *backbone_args(pretrained), "--output", run, *flags]
    code, out, err = cli(capsys, *argv)
    lines = err.splitlines()
    assert code == 1, err
    assert lines[0].startswith("ftcore train: error: ") and first in lines[0], err
    if later is not None:
        assert any(line.strip().startswith(later) for line in lines[1:]), err
    assert not run.exists(), f"{case}: a refused run left {sorted(run.rglob('*'))}"


def test_an_existing_run_folder_is_never_overwritten(pretrained, tmp_path, capsys):
    data = _good(tmp_path / "parts")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "keep.txt").write_text("mine")
    code, _, err = cli(
        capsys, "train", data, *backbone_args(pretrained), "--output", tmp_path / "run"
    )
    assert code == 1 and "already exists: ftcore train never overwrites a run" in err
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["keep.txt"]


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_a_run_writes_a_complete_run_folder_and_a_true_report(pretrained, tmp_path, capsys):
    import keras

    from ftcore.data import read_split
    from ftcore.export import read_sidecar
    from ftcore.predict.images import load_images

    data = _with("dented/empty.jpg", b"")(tmp_path / "parts")
    run = tmp_path / "run"
    argv = ["train", data, *backbone_args(pretrained), *QUICK, *STAGE2, "--output", run]
    code, out, err = cli(capsys, *argv, "--skip-bad", "--assert-accuracy-at-least", "0")
    assert code == 0, err
    files = {p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file()}
    for name in (
        "config.json",
        "split.json",
        "history.jsonl",
        "best.keras",
        "model.pb",
        "model.pb.json",
        "model.tflite",
        "model.tflite.json",
        "labels.txt",
        "report.json",
        "learning_curves.png",
        "checkpoints/latest.npz",
    ):
        assert name in files, sorted(files)
    assert any(f.startswith("logs/") for f in files) and "FAILED" not in files
    for name in ("model.pb", "model.tflite", "report.json", "labels.txt", "best.keras"):
        assert stat.S_IMODE((run / name).stat().st_mode) & 0o044 == 0o044  # umask 022 here

    report = json.loads((run / "report.json").read_text())
    split = read_split(run / "split.json", data)
    assert report["class_counts"] == split.counts()
    assert "dented/empty.jpg" not in split.split_of
    assert report["bad_files_skipped"] == [
        "dented/empty.jpg: is empty (0 bytes), expected an image"
    ]
    assert (run / "labels.txt").read_text().split() == ["dented", "ok", "scratched"]
    assert read_sidecar(run / "model.tflite").labels == ["dented", "ok", "scratched"]
    assert report["weights"]["sha256"] == _sha256(pretrained.keras_weights)
    assert [len(s["history"]["val_loss"]) for s in report["stages"]] == [3, 2]

    records = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    val_losses = [r["metrics"]["val_loss"] for r in records]
    best = int(np.argmin(val_losses))
    assert report["best"]["epoch_overall"] == best + 1
    assert report["best"]["stage"] == records[best]["name"]

    val = split.subset("validation")  # the accuracy again, by predict's loader on best.keras
    x = load_images([data / f.path for f in val], 32, preprocessing="mobilenet")
    model = keras.models.load_model(run / "best.keras", compile=False)
    predicted = np.argmax(model.predict(x, verbose=0), axis=1)
    accuracy = float(np.mean(predicted == [f.label for f in val]))
    assert report["validation"]["accuracy"] == pytest.approx(accuracy, abs=1e-9)
    assert report["gate"] == {"assert_accuracy_at_least": 0.0, "passed": True}
    assert f"validation accuracy: {accuracy:.4f}" in out
    assert "stage 2/2 (unfreeze) epoch 2/2:" in out

    code, _, err = cli(capsys, *argv, "--resume")  # a finished run is not resumed
    assert code == 1 and "already finished" in err
