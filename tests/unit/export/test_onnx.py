"""ONNX export: .onnx models reproduce the restored model (probe batch and real photos) in
onnxruntime, are written atomically with a sidecar naming the model's sha256, and are refused,
with nothing written, when they disagree beyond the self-check tolerance."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from ftcore.errors import MismatchError
from ftcore.export import onnx, pb
from ftcore.export.kit import FrozenModel, SelfCheck, keras_graph_def
from ftcore.predict import from_checkpoint, from_onnx, from_pb
from ftcore.predict.images import load_images
from ftcore.sidecar import read_sidecar, sidecar_path
from ftcore_fixtures.digits import source_task
from tests.helpers.agreement import assert_agree
from tests.helpers.exports import small_keras_model
from tests.helpers.graph_nets import PREDICTIONS, images


def test_keras_export_matches_on_probe_and_photos_with_a_sidecar(photos, tmp_path):
    import onnxruntime

    model = small_keras_model()
    out = tmp_path / "small.onnx"
    sidecar = onnx.export_keras(model, out, labels=list("abcd"))
    written = json.loads(sidecar_path(out).read_text())
    assert written["format"] == "onnx" and written["labels"] == list("abcd")
    assert written["model_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert written["inputs"][0] == {
        "name": "input:0",
        "shape": [None, 16, 16, 3],
        "dtype": "float32",
    }
    assert sorted(written["check"]["photos"]) == sorted(p.name for p in photos.values())
    assert written["check"]["runtime"] == f"onnxruntime {onnxruntime.__version__}"
    assert written["check"]["opset"] == onnx.OPSET
    assert read_sidecar(out) == sidecar and sidecar.check["onnx_max_abs_diff"] < 1e-4
    x = load_images(list(photos.values()), 16)
    with from_onnx(out) as got:
        assert got.kind == "onnx" and got.runtime == sidecar.check["runtime"]
        assert got.labels == list("abcd") and got.input_shape == (16, 16, 3)
        batches = (x, x[:1], np.random.default_rng(2).uniform(-1, 1, (7, 16, 16, 3)))
        assert_agree(lambda b: model(b).numpy(), {"onnx": got}, batches, "onnx")


@pytest.mark.slow
def test_checkpoint_and_pb_exports_match_the_restored_graph(slim_ckpt, tmp_path):
    from_ckpt, from_frozen = tmp_path / "ckpt.onnx", tmp_path / "pb.onnx"
    onnx.export_checkpoint(slim_ckpt, from_ckpt, outputs=[PREDICTIONS])
    pb.export_checkpoint(slim_ckpt, tmp_path / "m.pb", outputs=[PREDICTIONS], labels=list("abcde"))
    sidecar = onnx.export_pb(tmp_path / "m.pb", from_frozen)  # names, labels from the .pb sidecar
    assert sidecar.source.startswith("frozen graph") and len(sidecar.check["photos"]) == 4
    assert sidecar.labels == list("abcde") and sidecar.outputs[0].name == PREDICTIONS + ":0"
    x = images(6, seed=3)
    with (
        from_checkpoint(slim_ckpt, PREDICTIONS) as want,
        from_onnx(from_ckpt) as got_ckpt,
        from_onnx(from_frozen) as got_pb,
    ):
        candidates = {"from checkpoint": got_ckpt, "from .pb": got_pb}
        assert_agree(want, candidates, [x, x[:1]], "onnx")
        assert got_ckpt.input_shape == got_pb.input_shape == (32, 32, 3)


@pytest.mark.slow
def test_the_pretrained_fixture_keeps_its_predictions(pretrained, tmp_path):
    """The genuinely trained fixture network: its .onnx agrees with its .pb in TensorFlow on the
    held-out digits, and so predicts the same classes."""
    src = source_task(size=32)
    out = tmp_path / "pretrained.onnx"
    onnx.export_pb(pretrained.frozen_pb, out, [pretrained.slim_output_name])
    with from_pb(pretrained.frozen_pb, output=pretrained.slim_output_name) as want:
        with from_onnx(out) as got:
            assert_agree(want, {"onnx": got}, [src.x_test[:64]], "onnx")
            assert np.array_equal(got(src.x_test).argmax(1), want(src.x_test).argmax(1))


def test_export_fails_with_the_numbers_and_writes_nothing(tmp_path):
    model = small_keras_model()
    graph_def, inputs, outputs = keras_graph_def(model)

    def off_by_a_bit(x):  # a "restored model" that disagrees with the converted one
        return [model(x, training=False).numpy() + 0.01]

    def off_on_photos_only(x):  # the probe batch has 2 images, the shipped photos 4
        return [model(x, training=False).numpy() + (0.01 if len(x) == 4 else 0.0)]

    for reference, what in ((off_by_a_bit, "probe batch"), (off_on_photos_only, "photos")):
        with pytest.raises(MismatchError, match=rf"onnx model \({what}\): output 0 .* up to 0\.01"):
            onnx.export_graph(
                FrozenModel(graph_def, inputs, outputs, reference), tmp_path / "bad.onnx"
            )
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def linear():
    """conv -> BN -> pool -> dense, no biases: f(a*x) = a*f(x), so the conversion's float error
    grows with the input: a large probe dominates the check, a tiny one leaves it to the photos."""
    import keras

    keras.utils.set_random_seed(2)
    layers = keras.layers
    x = inp = keras.Input((16, 16, 3))
    x = layers.BatchNormalization(center=False)(layers.Conv2D(8, 3, use_bias=False)(x))
    x = layers.Dense(4, use_bias=False)(layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inp, x, name="linear")
    bn = model.layers[2]
    gamma, mean, var = bn.get_weights()
    rng = np.random.default_rng(2)
    bn.set_weights([rng.uniform(0.5, 2, gamma.shape), 0 * mean, rng.uniform(0.2, 3, var.shape)])
    return model


@pytest.mark.parametrize("scale, comparison", [(60.0, "probe batch"), (1e-4, "photos")])
def test_the_self_check_tolerance_is_applied_on_probe_and_photos(
    linear, scale, comparison, tmp_path
):
    """Exactly the measured difference passes; half of it is refused and nothing is written.
    With a large probe the probe batch holds the largest difference, with a tiny one the photos."""
    probe = np.random.default_rng(0).uniform(-scale, scale, (4, 16, 16, 3)).astype(np.float32)
    worst = onnx.export_keras(linear, tmp_path / "m.onnx", check=SelfCheck(probe)).check
    worst = worst["onnx_max_abs_diff"]
    assert worst > 0, "the check must see the conversion's float error for this test to bite"
    ok = onnx.export_keras(linear, tmp_path / "in.onnx", check=SelfCheck(probe, atol=worst, rtol=0))
    assert ok.check["onnx_max_abs_diff"] == worst
    with pytest.raises(MismatchError, match=rf"onnx model \({comparison}\): .* differs from"):
        onnx.export_keras(
            linear, tmp_path / "out.onnx", check=SelfCheck(probe, atol=worst / 2, rtol=0)
        )
    assert not (tmp_path / "out.onnx").exists() and not (tmp_path / "out.onnx.json").exists()
