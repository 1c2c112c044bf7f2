"""``ftcore inspect`` on a real checkpoint, its ``.meta``, a frozen ``.pb`` and Keras files."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.exports import small_keras_model
from tests.unit.app.cli_run import cli, row


def test_inspect_checkpoint_meta_and_pb(slim_ckpt, frozen_pb, capsys):
    code, out, _ = cli(capsys, "inspect", slim_ckpt)
    assert code == 0 and row(out, "MobilenetV2/Conv/weights", "(3, 3, 3, 16)", "float32")
    meta = next(Path(slim_ckpt).glob("*.meta"))
    code, out, _ = cli(capsys, "inspect", meta, "--grep", "Predictions/Reshape_1")
    assert code == 0 and row(out, "MobilenetV2/Predictions/Reshape_1", "Reshape")
    code, out, _ = cli(capsys, "inspect", frozen_pb)
    assert (
        code == 0
        and row(out, "input", "Placeholder", "(None, 32, 32, 3)")
        and "# preprocessing: mobilenet" in out
    )


def test_inspect_keras_model_and_weights(tmp_path, capsys):
    model = small_keras_model()
    model.save(tmp_path / "m.keras")
    model.save_weights(tmp_path / "m.weights.h5")
    code, out, _ = cli(capsys, "inspect", tmp_path / "m.keras")
    assert code == 0 and f"# {len(model.layers)} layers, {model.count_params()} params" in out
    code, out, _ = cli(capsys, "inspect", tmp_path / "m.weights.h5")
    assert code == 0 and "(3, 3, 3, 8)" in out and "float32" in out
