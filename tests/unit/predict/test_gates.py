"""Each preprocessing convention through each predictor kind: a predictor scales images as its
sidecar (``.pb``, ``.tflite``) or its caller (``.keras``, checkpoint) says, on the API and the
CLI, and the outputs match the model run on images scaled that way by hand."""

from __future__ import annotations

import re

import numpy as np
import pytest

from ftcore.app.cli import main
from ftcore.export import export_keras
from ftcore.export import litert as tflite
from ftcore.predict import load, load_images
from ftcore.preprocessing import PREPROCESSING

CONVENTIONS = sorted(PREPROCESSING)
EXPORTS = {"pb": export_keras, "tflite": tflite.export_keras}
WEIGHTS = np.eye(3, 4, dtype=np.float32) * 10  # class = the strongest mean colour channel


@pytest.fixture(scope="module")
def model():
    """Global average pool, then 10 x identity and softmax: its output follows the scale."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(4, activation="softmax"),
        ]
    )
    model.layers[-1].set_weights([WEIGHTS, np.zeros(4, np.float32)])
    return model


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """The same network as a TF1 checkpoint with its meta graph (output ``probs``)."""
    import tensorflow as tf

    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [None, 16, 16, 3], name="input")
        w = v1.get_variable("w", initializer=WEIGHTS)
        tf.nn.softmax(tf.matmul(tf.reduce_mean(x, [1, 2]), w), name="probs")
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            root = tmp_path_factory.mktemp("colour_ckpt")
            v1.train.Saver().save(sess, str(root / "model.ckpt"))
    return root


@pytest.fixture(scope="module")
def by_hand(model, photos):
    """Per convention: the Keras model's outputs on the photos scaled by hand; they differ
    between conventions by far more than the predictors' tolerance (or the test could not bite)."""
    paths = list(photos.values())
    out = {c: np.asarray(model(load_images(paths, 16, preprocessing=c))) for c in CONVENTIONS}
    for a in CONVENTIONS:
        for b in CONVENTIONS:
            if a < b:
                assert np.abs(out[a] - out[b]).max() > 1e-3, (a, b)
    return paths, out


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("fmt", sorted(EXPORTS))
def test_an_export_predicts_with_its_sidecars_convention(
    model, by_hand, fmt, convention, tmp_path, capsys
):
    paths, want = by_hand
    path = tmp_path / f"m.{fmt}"
    EXPORTS[fmt](model, path, preprocessing=convention, labels=list("abcd"))
    with load(path) as predictor:
        assert predictor.preprocessing == convention
        got = predictor.predict_images(paths)
    np.testing.assert_allclose(got, want[convention], rtol=1e-4, atol=1e-5)
    assert main(["predict", str(path), *map(str, paths), "--top", "1"]) == 0
    printed = [float(s) for s in re.findall(r"1\. \S+\s+([0-9.]+)", capsys.readouterr().out)]
    np.testing.assert_allclose(printed, want[convention].max(1), atol=1e-4)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_a_keras_model_predicts_with_the_convention_it_is_given(
    model, by_hand, convention, tmp_path
):
    paths, want = by_hand
    model.save(tmp_path / "m.keras")
    with load(tmp_path / "m.keras", preprocessing=convention) as predictor:
        assert predictor.preprocessing == convention
        np.testing.assert_allclose(predictor.predict_images(paths), want[convention], atol=1e-5)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_a_checkpoint_predicts_with_the_convention_it_is_given(checkpoint, by_hand, convention):
    paths, want = by_hand
    with load(checkpoint, output="probs", preprocessing=convention) as predictor:
        assert predictor.kind == "restored" and predictor.preprocessing == convention
        np.testing.assert_allclose(predictor.predict_images(paths), want[convention], atol=1e-5)
