"""mobilenet_224's int8 checks: a faithful int8 conversion (LiteRT's or onnxruntime's) passes, a
wrong one is refused, on the activations and on the logits; an ONNX model with float convs is
not taken for onnxruntime's int8."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from mobilenet_224 import (
    _check_int8_tracks_tf,
    _check_quantized,
    _onnx_model,
    _ort_int8_model,
    _ort_int8_tensors,
    _tflite_tensors,
    onnx_missing,
)

needs_onnx = pytest.mark.skipif(onnx_missing() is not None, reason=str(onnx_missing()))


@pytest.fixture(scope="module")
def small_graph():
    """Two conv+Relu6 layers on a 224x224x3 input (the check's probe batch size), then a
    classifier (mean, matmul: the logits, softmax), frozen."""
    rng = np.random.default_rng(0)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 224, 224, 3], name="input")
        for i, channels in enumerate((3, 8)):
            w = tf.constant(rng.normal(0, 0.5, (3, 3, channels, 8)).astype(np.float32))
            x = tf.nn.relu6(tf.nn.conv2d(x, w, 2, "SAME"), name=f"relu_{i}")
        w = tf.constant(rng.normal(0, 0.5, (8, 5)).astype(np.float32))
        tf.nn.softmax(tf.matmul(tf.reduce_mean(x, [1, 2]), w, name="logits"), name="probs")
    return graph.as_graph_def(), "input:0"


@pytest.fixture(scope="module")
def calibration():
    return np.random.default_rng(1).uniform(-1, 1, (8, 224, 224, 3)).astype(np.float32)


def test_faithful_int8_conversion_passes(small_graph, calibration):
    graph_def, inp = small_graph
    _check_int8_tracks_tf(_tflite_tensors(graph_def, inp, calibration), graph_def, inp)


@needs_onnx
@pytest.mark.parametrize("activations", ["int8", "uint8"])
def test_faithful_onnxruntime_int8_quantization_passes(small_graph, calibration, activations):
    graph_def, inp = small_graph
    run = _ort_int8_tensors(graph_def, inp, calibration, activations)
    _check_int8_tracks_tf(run, graph_def, inp, "onnxruntime int8")
    _check_quantized(_ort_int8_model(graph_def, inp, ["probs:0"], calibration, activations), "q")


def test_logits_that_do_not_track_tf_are_refused(small_graph):
    graph_def, inp = small_graph
    float_run = _tflite_tensors(graph_def, inp)

    def wrong_logits(names, x):  # right activations, logits of the wrong sign
        ys = float_run(names, x)
        return [-y if n == "logits:0" else y for n, y in zip(names, ys, strict=True)]

    with pytest.raises(AssertionError, match=r"onnxruntime int8: correlation .* on logits:0"):
        _check_int8_tracks_tf(wrong_logits, graph_def, inp, "onnxruntime int8")


@needs_onnx
def test_a_float_onnx_model_is_not_taken_for_int8(small_graph):
    graph_def, inp = small_graph
    with pytest.raises(AssertionError, match=r"q: 3 of 3 Conv/MatMul nodes are not quantized"):
        _check_quantized(_onnx_model(graph_def, inp, ["probs:0"]), "q")


def test_activations_that_do_not_track_tf_are_refused(small_graph):
    graph_def, inp = small_graph
    float_run = _tflite_tensors(graph_def, inp)

    def shuffled(names, x):  # right shapes and ranges, wrong values
        rng = np.random.default_rng(2)
        return [rng.permutation(y.ravel()).reshape(y.shape) for y in float_run(names, x)]

    with pytest.raises(AssertionError, match=r"correlation with TF .* < 0\.99 on relu_"):
        _check_int8_tracks_tf(shuffled, graph_def, inp)
