"""The raw-op slim MobileNetV1 against independent references: Keras' MobileNet (same
architecture, other names), the published slim checkpoint layout and slim's op names (as
frozen in real graphs; the genuine-weights comparison is in the pretrained store's conversion
check and tests/integration/test_imagenet_photos.py)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from ftcore.errors import UnknownNameError
from ftcore.graph.nets.slim_mobilenet_v1 import END_POINTS, mobilenet_v1, mobilenet_v1_base

v1 = tf.compat.v1


def build(depth_multiplier=1.0, size=224, num_classes=1001, **kwargs):
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [None, size, size, 3], name="input")
        _, ends = mobilenet_v1(x, num_classes, depth_multiplier=depth_multiplier, **kwargs)
        variables = {v.op.name: v.shape.as_list() for v in v1.global_variables()}
    return g, variables, ends


@pytest.mark.parametrize("alpha", [0.25, 1.0])
def test_layer_shapes_match_keras_mobilenet(alpha):
    _, variables, _ = build(alpha)
    slim = [s for n, s in variables.items() if n.endswith("weights") and "/Logits/" not in n]
    model = keras.applications.MobileNet(
        input_shape=(224, 224, 3), alpha=alpha, include_top=False, weights=None
    )
    assert slim == [list(w.shape) for w in model.weights if w.path.endswith("kernel")]


def test_published_1_0_checkpoint_layout():
    """Names and shapes of mobilenet_v1_1.0_224.ckpt (1001 ImageNet classes)."""
    _, variables, _ = build()
    expected = {
        "MobilenetV1/Conv2d_0/weights": [3, 3, 3, 32],
        "MobilenetV1/Conv2d_0/BatchNorm/moving_variance": [32],
        "MobilenetV1/Conv2d_1_depthwise/depthwise_weights": [3, 3, 32, 1],
        "MobilenetV1/Conv2d_1_pointwise/weights": [1, 1, 32, 64],
        "MobilenetV1/Conv2d_13_pointwise/BatchNorm/gamma": [1024],
        "MobilenetV1/Logits/Conv2d_1c_1x1/weights": [1, 1, 1024, 1001],
        "MobilenetV1/Logits/Conv2d_1c_1x1/biases": [1001],
    }
    assert {k: variables.get(k) for k in expected} == expected
    assert len(variables) == 137  # 27 conv layers x (kernel + 4 BN) + logits weights and biases
    trainable = sum(int(np.prod(s)) for n, s in variables.items() if "moving_" not in n)
    assert trainable == pytest.approx(4.23e6, rel=0.01)  # the published 4.2M parameters


def test_op_names_follow_slim():
    g, _, ends = build()
    assert ends["Conv2d_13_pointwise"].name == "MobilenetV1/MobilenetV1/Conv2d_13_pointwise/Relu6:0"
    assert ends["Conv2d_13_pointwise"].shape.as_list() == [None, 7, 7, 1024]
    assert ends["Predictions"].name == "MobilenetV1/Predictions/Reshape_1:0"
    assert ends["Logits"].name == "MobilenetV1/Logits/SpatialSqueeze:0"
    assert g.get_operation_by_name("MobilenetV1/Logits/AvgPool_1a/AvgPool").type == "AvgPool"
    assert list(ends)[: len(END_POINTS)] == list(END_POINTS)


def test_small_input_and_unknown_size_pool_globally():
    _, _, ends = build(0.25, size=64, num_classes=5)
    assert ends["AvgPool_1a"].shape.as_list() == [None, 1, 1, 256]
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [None, None, None, 3])
        logits, _ = mobilenet_v1(x, 5, depth_multiplier=0.25)
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            assert sess.run(logits, {x: np.zeros((2, 96, 96, 3))}).shape == (2, 5)


def test_base_stops_at_final_endpoint_and_rejects_unknown_names():
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [None, 64, 64, 3])
        net, ends = mobilenet_v1_base(x, 0.5, final_endpoint="Conv2d_6_pointwise")
        assert net.name == "MobilenetV1/MobilenetV1/Conv2d_6_pointwise/Relu6:0"
        assert list(ends)[-1] == "Conv2d_6_pointwise" and "Conv2d_7_depthwise" not in ends
        with pytest.raises(UnknownNameError, match="Conv2d_6_pointwise"):
            mobilenet_v1_base(x, 0.5, final_endpoint="Conv2d_6_pointwse", scope="Other")


def test_training_graph_updates_batch_norm_statistics():
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [None, 32, 32, 3])
        mobilenet_v1(x, 3, depth_multiplier=0.25, is_training=True)
        assert len(v1.get_collection(v1.GraphKeys.UPDATE_OPS)) == 2 * 27
        assert len(v1.get_collection(v1.GraphKeys.REGULARIZATION_LOSSES)) == 14 + 1
