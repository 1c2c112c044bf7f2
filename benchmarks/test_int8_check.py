"""mobilenet_224's int8 check: a faithful int8 conversion passes, a wrong one is refused."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from mobilenet_224 import _check_int8_tracks_tf, _tflite_tensors


@pytest.fixture(scope="module")
def small_graph():
    """Two conv+Relu6 layers on a 224x224x3 input (the check's probe batch size), frozen."""
    rng = np.random.default_rng(0)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 224, 224, 3], name="input")
        for i, channels in enumerate((3, 8)):
            w = tf.constant(rng.normal(0, 0.5, (3, 3, channels, 8)).astype(np.float32))
            x = tf.nn.relu6(tf.nn.conv2d(x, w, 2, "SAME"), name=f"relu_{i}")
    return graph.as_graph_def(), "input:0"


def test_faithful_int8_conversion_passes(small_graph):
    graph_def, inp = small_graph
    calibration = np.random.default_rng(1).uniform(-1, 1, (8, 224, 224, 3)).astype(np.float32)
    _check_int8_tracks_tf(_tflite_tensors(graph_def, inp, calibration), graph_def, inp)


def test_activations_that_do_not_track_tf_are_refused(small_graph):
    graph_def, inp = small_graph
    float_run = _tflite_tensors(graph_def, inp)

    def shuffled(names, x):  # right shapes and ranges, wrong values
        rng = np.random.default_rng(2)
        return [rng.permutation(y.ravel()).reshape(y.shape) for y in float_run(names, x)]

    with pytest.raises(AssertionError, match=r"correlation with TF .* < 0\.99 on relu_"):
        _check_int8_tracks_tf(shuffled, graph_def, inp)
