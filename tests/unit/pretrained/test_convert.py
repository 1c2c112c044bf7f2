"""The converters' name maps, checked numerically without the network: random weights under
slim names, mapped into Keras (and back), must give the same outputs as ftcore's slim builders
(the genuine weights are checked the same way when an entry is fetched)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from ftcore.errors import InvalidFileError
from ftcore.graph.nets.slim_mobilenet_v1 import mobilenet_v1
from ftcore.graph.nets.slim_mobilenet_v2 import mobilenet_v2_base
from ftcore.pretrained.convert_mobilenet_v1 import SourceGraph, keras_arrays
from ftcore.pretrained.convert_mobilenet_v2 import slim_name

v1 = tf.compat.v1
SIZE = 64


def _random(name: str, shape, rng) -> np.ndarray:
    """Random weights; BN variances positive."""
    if name.endswith("moving_variance"):
        return rng.uniform(0.5, 1.5, shape).astype(np.float32)
    return rng.normal(0.0, 0.2, shape).astype(np.float32)


def _random_like(variables, rng) -> dict[str, np.ndarray]:
    return {v.op.name: _random(v.op.name, v.shape.as_list(), rng) for v in variables}


def _run_slim(build, x, arrays=None, rng=None):
    graph = tf.Graph()
    with graph.as_default():
        inputs = v1.placeholder(tf.float32, [None, SIZE, SIZE, 3])
        outputs = build(inputs)
        variables = v1.global_variables()
        arrays = arrays if arrays is not None else _random_like(variables, rng)
        with v1.Session(graph=graph) as sess:
            for var in variables:
                var.load(arrays[var.op.name], sess)
            return arrays, sess.run(outputs, {inputs: x})


@pytest.mark.slow
def test_slim_v1_names_map_onto_keras_mobilenet_dropping_the_background_class():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (2, SIZE, SIZE, 3)).astype(np.float32)

    def build(inputs):
        logits, ends = mobilenet_v1(inputs, num_classes=11, depth_multiplier=0.25)
        return logits, ends["Conv2d_13_pointwise"]

    arrays, (slim_logits, slim_features) = _run_slim(build, x, rng=rng)
    model = keras.applications.MobileNet(
        (SIZE, SIZE, 3), alpha=0.25, include_top=True, weights=None, classes=10
    )
    used = 0
    for layer, weights in keras_arrays(model.layers, arrays):
        layer.set_weights(weights)
        used += len(weights)
    assert used == len(arrays) == 137
    probe = keras.Model(
        model.inputs,
        [model.get_layer("conv_preds").output, model.get_layer("conv_pw_13_relu").output],
    )
    keras_logits, keras_features = probe.predict(x, verbose=0)
    assert np.abs(keras_features - slim_features).max() < 1e-4
    assert np.abs(keras_logits.reshape(2, 10) - slim_logits[:, 1:]).max() < 1e-4


@pytest.mark.slow
def test_keras_v2_names_map_onto_the_slim_builder():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (2, SIZE, SIZE, 3)).astype(np.float32)
    model = keras.applications.MobileNetV2(
        (SIZE, SIZE, 3), alpha=0.5, include_top=False, weights=None
    )
    keras_arrays_ = {}
    for layer in model.layers:
        for w in layer.weights:
            keras_arrays_[f"{layer.name}/{w.name}"] = _random(w.name, w.shape, rng)
        if layer.weights:
            layer.set_weights([keras_arrays_[f"{layer.name}/{w.name}"] for w in layer.weights])
    slim = {slim_name(k): v for k, v in keras_arrays_.items()}
    assert len(slim) == len(keras_arrays_)  # one-to-one

    def build(inputs):
        net, ends = mobilenet_v2_base(inputs, 0.5, finegrain_classification_mode=True)
        return ends["expanded_conv_14/output"], net

    _, (slim_14, slim_top) = _run_slim(build, x, arrays=slim)
    probe = keras.Model(model.inputs, [model.get_layer("block_14_add").output, model.output])
    keras_14, keras_top = probe.predict(x, verbose=0)
    assert np.abs(slim_14 - keras_14).max() < 1e-3 * max(1.0, np.abs(keras_14).max())
    assert np.abs(slim_top - keras_top).max() < 1e-3 * max(1.0, np.abs(keras_top).max())


def test_unknown_keras_layer_has_no_slim_name():
    with pytest.raises(InvalidFileError, match="block_x_expand"):
        slim_name("block_x_expand/kernel")


def test_a_graph_that_is_not_slim_mobilenet_v1_is_refused(tmp_path):
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [1, 4], name="input")
        tf.matmul(x, tf.constant(np.ones((4, 2), np.float32), name="MobilenetV1/Logits/w"))
    pb = tmp_path / "other.pb"
    pb.write_bytes(graph.as_graph_def().SerializeToString())
    with pytest.raises(InvalidFileError, match="expected the 137 weight arrays.*found 1"):
        SourceGraph(pb)
