"""``ftcore freeze --format tflite`` (float and int8) and ``ftcore predict`` on the result."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from ftcore.predict.litert import choose_interpreter
from ftcore_fixtures.digits import target_task
from tests.helpers.exports import small_keras_model
from tests.unit.app.cli_run import cli


def test_freeze_to_tflite_then_predict(photos, tmp_path, capsys):
    small_keras_model().save(tmp_path / "small.keras")
    labels = tmp_path / "labels.txt"
    labels.write_text("ant\nbee\ncat\ndog\n")
    out = tmp_path / "small.tflite"
    code, stdout, err = cli(
        capsys,
        "freeze",
        tmp_path / "small.keras",
        "--format",
        "tflite",
        "--output",
        out,
        "--labels",
        labels,
    )
    assert code == 0, err
    assert "probe batch and 4 photos: tflite_max_abs_diff" in stdout
    assert "interpreter: " in stdout and json.loads(out.with_suffix(".tflite.json").read_text())
    code, stdout, err = cli(capsys, "predict", out, photos["chelsea_cat"], "--top", "2")
    assert code == 0, err
    ranked = [line.split()[1] for line in stdout.splitlines() if line.startswith("  ")]
    assert len(ranked) == 2 and set(ranked) <= {"ant", "bee", "cat", "dog"}
    assert stdout.splitlines()[-1] == f"# tflite model, run by {choose_interpreter()[1]}"


def test_freeze_int8_from_a_folder_of_task_images(tmp_path, capsys):
    small_keras_model().save(tmp_path / "small.keras")
    folder = tmp_path / "task"
    folder.mkdir()
    pixels = (target_task(size=16, per_class=8).x_train + 1) * 127.5  # back to 0..255 images
    for i, image in enumerate(pixels.round().astype(np.uint8)):
        Image.fromarray(image).save(folder / f"{i:02d}.png")
    code, stdout, err = cli(
        capsys,
        "freeze",
        tmp_path / "small.keras",
        "--format",
        "tflite",
        "--int8",
        folder,
        "--output",
        tmp_path / "q.tflite",
    )
    assert code == 0, err
    assert "int8: top-1 agreement with the float model" in stdout
    assert "on 10 held-out images (threshold 0.9; calibrated on 30)" in stdout
    assert "inputs: [('input', [None, 16, 16, 3], 'int8')]" in stdout


def test_format_options_are_checked(tmp_path, capsys):
    small_keras_model().save(tmp_path / "small.keras")
    for argv, message in (
        (["--int8", tmp_path], "--int8 and --min-agreement need --format tflite"),
        (["--format", "tflite", "--no-optimize"], "--no-optimize applies to --format pb"),
        (["--format", "tflite", "--min-agreement", "0.5"], "--min-agreement needs --int8 DIR"),
        (["--format", "tflite", "--int8", tmp_path / "none"], "no such folder of int8"),
    ):
        code, _, err = cli(
            capsys, "freeze", tmp_path / "small.keras", "--output", tmp_path / "x.tflite", *argv
        )
        assert code == 1 and message in err, err
    assert not (tmp_path / "x.tflite").exists()


def test_freeze_pb_to_tflite_keeps_the_source_sidecars_labels_and_scaling(
    frozen_pb, tmp_path, capsys
):
    # issue 20: `--preprocessing` defaulted to mobilenet and `--labels` to None, so a .tflite
    # made from a .pb dropped its sidecar's labels and scaling
    import shutil

    from ftcore.sidecar import read_sidecar, sidecar_path

    pb = tmp_path / "source.pb"  # a copy: the package-scoped fixture stays as it is
    shutil.copy(frozen_pb, pb)
    source = json.loads(sidecar_path(frozen_pb).read_text())
    source["preprocessing"] = "seed"  # a convention other than the exporters' default
    sidecar_path(pb).write_text(json.dumps(source))
    out = tmp_path / "from_pb.tflite"
    code, _, err = cli(capsys, "freeze", pb, "--format", "tflite", "--output", out)
    assert code == 0, err
    written = read_sidecar(out)
    assert written.labels == ["ant", "bee", "cat", "dog", "eel"]
    assert written.preprocessing == "seed"
    given = tmp_path / "given.tflite"
    args = ("--format", "tflite", "--output", given, "--preprocessing", "mobilenet")
    code, _, err = cli(capsys, "freeze", pb, *args)
    assert code == 0, err
    assert read_sidecar(given).preprocessing == "mobilenet"  # what the user gives wins
