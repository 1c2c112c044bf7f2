"""Export the pretrained fixtures and check the frozen graphs: same outputs as the restored
models on held-out digits, same accuracy, and the CLI round trip (freeze, inspect, predict)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from ftcore.app.cli import main
from ftcore.export.pb import export_checkpoint, export_keras
from ftcore.graph.optimize import count_ops
from ftcore.graph.safety import load_graph_def
from ftcore.predict.predictor import from_checkpoint, from_keras, from_pb
from ftcore.sidecar import read_sidecar
from ftcore_fixtures.digits import source_task

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def src(pretrained):
    return source_task(pretrained.image_size)


def test_slim_checkpoint_export_keeps_outputs_and_accuracy(pretrained, src, tmp_path):
    out = tmp_path / "slim.pb"
    export_checkpoint(
        pretrained.slim_ckpt_dir, out, outputs=[pretrained.slim_output_name], labels=src.class_names
    )
    assert "FusedBatchNormV3" not in count_ops(load_graph_def(out))
    with (
        from_checkpoint(pretrained.slim_ckpt_dir, pretrained.slim_output_name) as restored,
        from_pb(out) as fast,
    ):
        want, got = restored.predict(src.x_test), fast.predict(src.x_test)
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-5)
    accuracy = float(np.mean(got.argmax(1) == src.y_test))
    assert accuracy == pytest.approx(pretrained.accuracy["slim"], abs=1 / len(src.y_test))
    assert read_sidecar(out).labels == list(src.class_names)


def test_keras_weights_export_matches_the_restored_model(pretrained, src, tmp_path):
    model = keras.applications.MobileNet(
        input_shape=(pretrained.image_size,) * 2 + (3,),
        alpha=pretrained.keras_alpha,
        include_top=False,
        weights=str(pretrained.keras_weights),
        pooling="avg",
    )
    out = tmp_path / "keras.pb"
    sidecar = export_keras(model, out)
    assert not {"Rsqrt", "FusedBatchNormV3"} & set(count_ops(load_graph_def(out)))
    assert sidecar.check["optimized_max_abs_diff"] <= sidecar.check["atol"] + 1e-3
    with from_pb(out) as fast:
        np.testing.assert_allclose(
            fast.predict(src.x_test),
            from_keras(model).predict(src.x_test),
            rtol=1e-3,
            atol=1e-4,
        )


def test_shipped_frozen_pb_optimizes_to_the_same_outputs(pretrained, src):
    kwargs = {"input_name": pretrained.slim_input_name, "output": pretrained.slim_output_name}
    with (
        from_pb(pretrained.frozen_pb, **kwargs) as plain,
        from_pb(pretrained.frozen_pb, optimize_graph=True, **kwargs) as fast,
    ):
        np.testing.assert_allclose(
            fast.predict(src.x_test), plain.predict(src.x_test), rtol=1e-3, atol=1e-5
        )


def test_cli_freeze_inspect_predict(pretrained, photos, tmp_path, capsys):
    out = tmp_path / "cli.pb"
    ckpt = str(pretrained.slim_ckpt_dir)
    assert (
        main(["freeze", ckpt, "--output", str(out), "--outputs", pretrained.slim_output_name]) == 0
    )
    assert main(["inspect", ckpt, "--grep", "Logits"]) == 0
    assert main(["predict", str(out), str(photos["chelsea_cat"]), "--top", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("MobilenetV2/Logits/Conv2d_1c_1x1/weights") for line in lines)
    assert lines[-5] == str(photos["chelsea_cat"]) and lines[-2].lstrip().startswith("3.")
    assert lines[-1].startswith("# frozen model, run by TensorFlow ")
