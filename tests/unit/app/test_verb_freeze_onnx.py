"""``ftcore freeze --format onnx`` (from a .keras model, a checkpoint and a .pb), ``ftcore predict``
on the result naming its runtime, the options that do not apply, and the modes of the written
files under the umask."""

from __future__ import annotations

import sys

import onnxruntime
import pytest

from ftcore.sidecar import read_sidecar
from tests.helpers.exports import small_keras_model
from tests.helpers.faults import run_ok
from tests.helpers.graph_nets import PREDICTIONS
from tests.unit.app.cli_run import cli

LABELS = ["ant", "bee", "cat", "dog", "eel"]


def test_freeze_keras_to_onnx_then_predict(photos, tmp_path, capsys):
    small_keras_model().save(tmp_path / "small.keras")
    labels = tmp_path / "labels.txt"
    labels.write_text("ant\nbee\ncat\ndog\n")
    out = tmp_path / "small.onnx"
    argv = ("freeze", tmp_path / "small.keras", "--format", "onnx", "--output", out)
    code, stdout, err = cli(capsys, *argv, "--labels", labels)
    assert code == 0, err
    assert f"wrote {out} and {out}.json" in stdout
    assert "probe batch and 4 photos: onnx_max_abs_diff" in stdout
    assert f"runtime: onnxruntime {onnxruntime.__version__} (opset 17)" in stdout
    assert "inputs: [('input:0', [None, 16, 16, 3], 'float32')]" in stdout
    code, stdout, err = cli(capsys, "predict", out, photos["chelsea_cat"], "--top", "2")
    assert code == 0, err
    ranked = [line.split()[1] for line in stdout.splitlines() if line.startswith("  ")]
    assert len(ranked) == 2 and set(ranked) <= {"ant", "bee", "cat", "dog"}
    assert stdout.splitlines()[-1] == f"# onnx model, run by onnxruntime {onnxruntime.__version__}"


@pytest.mark.slow
def test_freeze_a_checkpoint_and_a_pb_to_onnx(slim_ckpt, frozen_pb, photos, tmp_path, capsys):
    """A checkpoint needs its outputs named; a .pb keeps its sidecar's names and labels."""
    from_ckpt, from_pb = tmp_path / "ckpt.onnx", tmp_path / "pb.onnx"
    argv = ("freeze", slim_ckpt, "--format", "onnx", "--output", from_ckpt)
    code, _, err = cli(capsys, *argv, "--outputs", PREDICTIONS)
    assert code == 0, err
    code, _, err = cli(capsys, "freeze", frozen_pb, "--format", "onnx", "--output", from_pb)
    assert code == 0, err
    assert read_sidecar(from_pb).labels == LABELS and read_sidecar(from_ckpt).labels is None
    code, stdout, err = cli(capsys, "predict", from_pb, photos["coffee_cup"], "--top", "5")
    assert code == 0, err
    ranked = [line.split()[1] for line in stdout.splitlines() if line.startswith("  ")]
    assert sorted(ranked) == sorted(LABELS)


def test_options_that_do_not_apply_to_onnx_are_refused(tmp_path, capsys):
    small_keras_model().save(tmp_path / "small.keras")
    for extra in (["--int8", tmp_path], ["--no-optimize"], ["--min-agreement", "0.5"]):
        code, _, err = cli(
            capsys,
            "freeze",
            tmp_path / "small.keras",
            "--format",
            "onnx",
            "--output",
            tmp_path / "x.onnx",
            *extra,
        )
        assert code == 1 and "do not apply to --format onnx" in err, err
    assert not (tmp_path / "x.onnx").exists()
    (tmp_path / "m.onnx").write_bytes(b"onnx")
    code, _, err = cli(capsys, "freeze", tmp_path / "m.onnx", "--output", tmp_path / "y.pb")
    assert code == 1 and "cannot freeze" in err and "an ONNX model (.onnx)" in err
    code, _, err = cli(capsys, "inspect", tmp_path / "m.onnx")
    assert code == 1 and "not .onnx" in err


@pytest.mark.slow
@pytest.mark.parametrize(("mask", "mode"), [("022", 0o644), ("077", 0o600)])
def test_the_written_files_get_the_mode_the_umask_allows(tmp_path, mask, mode):
    small_keras_model().save(tmp_path / "small.keras")
    out = tmp_path / "out" / "model.onnx"
    cmd = [sys.executable, "-m", "ftcore.app.cli", "freeze", str(tmp_path / "small.keras")]
    cmd += ["--format", "onnx", "--output", str(out)]
    run_ok(["sh", "-c", f'umask {mask} && exec "$@"', "sh", *cmd])
    written = {p.name: oct(p.stat().st_mode & 0o777) for p in out.parent.iterdir()}
    assert written == {"model.onnx": oct(mode), "model.onnx.json": oct(mode)}
