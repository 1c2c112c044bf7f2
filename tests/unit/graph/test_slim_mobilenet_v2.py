"""The raw-op slim MobileNetV2 against independent references: Keras' MobileNetV2 (same
architecture, different variable names) and the published slim checkpoint layout."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from ftcore.graph.nets.slim_mobilenet_v2 import make_divisible, mobilenet_v2, mobilenet_v2_base

v1 = tf.compat.v1


def build(depth_multiplier, size=224, num_classes=1001, **kwargs):
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [None, size, size, 3], name="input")
        logits, ends = mobilenet_v2(x, num_classes, depth_multiplier=depth_multiplier, **kwargs)
        variables = {v.op.name: v.shape.as_list() for v in v1.global_variables()}
    return g, variables, ends


def conv_kernel_shapes_slim(variables):
    return [s for n, s in variables.items() if n.endswith("weights") and "/Logits/" not in n]


def conv_kernel_shapes_keras(alpha):
    model = keras.applications.MobileNetV2(
        input_shape=(224, 224, 3), alpha=alpha, include_top=False, weights=None
    )
    return [list(w.shape) for w in model.weights if w.path.endswith("kernel")]


@pytest.mark.parametrize("alpha", [0.35, 1.0, 1.4])
def test_layer_shapes_match_keras_mobilenet_v2(alpha):
    # Keras keeps 1280 final channels for alpha < 1: slim's finegrain_classification_mode.
    _, variables, _ = build(alpha, finegrain_classification_mode=alpha < 1)
    assert conv_kernel_shapes_slim(variables) == conv_kernel_shapes_keras(alpha)


def test_published_1_4_checkpoint_layout():
    """Names and shapes of mobilenet_v2_1.4_224.ckpt (1001 ImageNet classes)."""
    _, variables, _ = build(1.4)
    expected = {
        "MobilenetV2/Conv/weights": [3, 3, 3, 48],
        "MobilenetV2/Conv/BatchNorm/moving_variance": [48],
        "MobilenetV2/expanded_conv/depthwise/depthwise_weights": [3, 3, 48, 1],
        "MobilenetV2/expanded_conv/project/weights": [1, 1, 48, 24],
        "MobilenetV2/expanded_conv_1/expand/weights": [1, 1, 24, 144],
        "MobilenetV2/expanded_conv_14/depthwise/depthwise_weights": [3, 3, 1344, 1],
        "MobilenetV2/expanded_conv_16/project/weights": [1, 1, 1344, 448],
        "MobilenetV2/Conv_1/weights": [1, 1, 448, 1792],
        "MobilenetV2/Logits/Conv2d_1c_1x1/weights": [1, 1, 1792, 1001],
        "MobilenetV2/Logits/Conv2d_1c_1x1/biases": [1001],
    }
    assert {k: variables.get(k) for k in expected} == expected
    assert "MobilenetV2/expanded_conv/expand/weights" not in variables  # expansion 1: no expand
    # 17 blocks x 4 BN statistics + Conv + Conv_1: every BN has gamma, beta, mean, variance
    bn = [n for n in variables if "/BatchNorm/" in n]
    assert len(bn) == 4 * (1 + 2 * 1 + 3 * 16 + 1)


#: Parameters (M) of slim's published ImageNet checkpoints at 224, per depth multiplier: the
#: "Mobilenet V2 Imagenet Checkpoints" table of tensorflow/models
#: research/slim/nets/mobilenet/README.md. They count weights only (no BatchNorm parameters):
#: 1.4 gives 6,062,633 weights + 68,096 BN gammas/betas, and only the former rounds to 6.06.
PUBLISHED_MILLIONS = {1.4: 6.06, 1.3: 5.34, 1.0: 3.47, 0.75: 2.61, 0.5: 1.95, 0.35: 1.66}


def weights_only(variables):
    return {n: int(np.prod(s)) for n, s in variables.items() if "/BatchNorm/" not in n}


def keras_weights_only(alpha, classes=1001):
    """Keras' MobileNetV2 (its own code, 1280 final channels below 1.0), BN excluded."""
    model = keras.applications.MobileNetV2(
        (224, 224, 3), alpha=alpha, weights=None, classes=classes
    )
    bn = {id(w) for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)
          for w in layer.weights}  # fmt: skip
    return sum(int(np.prod(w.shape)) for w in model.weights if id(w) not in bn)


@pytest.mark.parametrize("depth", sorted(PUBLISHED_MILLIONS))
def test_published_checkpoint_layouts_by_default(depth):
    """The default builder has the published checkpoints' layout at every published depth
    (below 1.0: the 1280-channel Conv_1 of finegrain_classification_mode=True).

    The smallest layer is 6.6e-5..8.3e-5 of the total (128..432 weights: expanded_conv's
    depthwise or project kernel), below the table's resolution (two decimals: up to 0.3% at
    1.66M), so the table is checked at its printed precision and one missing layer is caught by
    the exact count of Keras' independent MobileNetV2 with the same 1001 classes.
    """
    _, variables, _ = build(depth)
    counts = weights_only(variables)
    total = sum(counts.values())
    assert round(total / 1e6, 2) == PUBLISHED_MILLIONS[depth]
    assert min(counts.values()) / total < 1e-4  # why the table alone could not catch it
    assert total == keras_weights_only(depth)  # tolerance 0: less than the smallest layer
    conv_1 = variables["MobilenetV2/Conv_1/weights"][-1]
    assert conv_1 == (1280 if depth < 1 else make_divisible(1280 * depth))


def test_shrinking_the_final_conv_below_1_is_the_named_option():
    _, variables, _ = build(0.35, finegrain_classification_mode=False)  # slim's code default
    assert variables["MobilenetV2/Conv_1/weights"] == [1, 1, 112, 448]
    assert round(sum(weights_only(variables).values()) / 1e6, 2) != PUBLISHED_MILLIONS[0.35]


def test_end_points_and_shapes():
    g, _, ends = build(1.0)
    assert ends["expanded_conv_14/output"].name == "MobilenetV2/expanded_conv_14/output:0"
    assert ends["expanded_conv_14/output"].shape.as_list() == [None, 7, 7, 160]
    assert ends["Predictions"].name == "MobilenetV2/Predictions/Reshape_1:0"
    assert g.get_operation_by_name("MobilenetV2/Logits/AvgPool").type == "AvgPool"


def test_base_stops_at_final_endpoint_and_rejects_unknown_names():
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [None, 64, 64, 3])
        net, ends = mobilenet_v2_base(x, 0.5, final_endpoint="expanded_conv_3/output")
        assert net.name == "MobilenetV2/expanded_conv_3/output:0"
        assert not any("expanded_conv_4" in v.op.name for v in v1.global_variables())
    with tf.Graph().as_default():
        x = v1.placeholder(tf.float32, [None, 64, 64, 3])
        with pytest.raises(KeyError, match="closest: 'expanded_conv_14/output'"):
            mobilenet_v2_base(x, 0.5, final_endpoint="expanded_conv_14/ouput")


def test_training_mode_registers_bn_updates_and_they_move_statistics():
    g, _, ends = build(0.35, size=32, num_classes=5, is_training=True)
    with g.as_default():
        updates = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
        mean = [
            v
            for v in v1.global_variables()
            if v.op.name == "MobilenetV2/Conv/BatchNorm/moving_mean"
        ][0]
        init = v1.global_variables_initializer()
    assert len(updates) == 2 * 52
    with v1.Session(graph=g) as sess:
        sess.run(init)
        before = sess.run(mean)
        sess.run(updates, {"input:0": np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 3))})
        assert not np.array_equal(before, sess.run(mean))


@pytest.mark.parametrize(
    ("v", "want"), [(32 * 0.35, 16), (1280 * 1.4, 1792), (16 * 0.35, 8), (96 * 1.4, 136)]
)
def test_make_divisible_matches_slim(v, want):
    assert make_divisible(v) == want
