"""BN, bias and pad folding and training-node stripping keep a graph's outputs (random graphs)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import assume, given
from hypothesis import strategies as st

from ftcore.graph.optimize import count_ops, optimize, same_padding, strip_training_nodes
from tests.helpers.exports import randomize_batch_norms

v1 = tf.compat.v1
BN_KINDS = ("FusedBatchNorm", "FusedBatchNormV3", "keras_decomposed", "mul_add", "mul_only")
BIAS_KINDS = (None, "BiasAdd", "keras", "AddV2")


def _run(graph_def, x, output="out:0", inp="x:0"):
    g = tf.Graph()
    with g.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    with v1.Session(graph=g) as sess:
        return sess.run(output, {inp: x})


def _batch_norm(y, kind: str, rng, channels: int):
    """Inference BN on ``y`` in one of the frozen forms TF1 and Keras 3 produce."""
    gamma, beta, mean = (rng.normal(size=channels).astype(np.float32) for _ in range(3))
    var = rng.uniform(0.1, 3.0, channels).astype(np.float32)
    eps = 1e-3
    if kind.startswith("FusedBatchNorm"):
        op = tf.raw_ops.FusedBatchNormV3 if kind.endswith("V3") else tf.raw_ops.FusedBatchNorm
        return op(
            x=y, scale=gamma, offset=beta, mean=mean, variance=var, epsilon=eps, is_training=False
        )[0]
    if kind == "keras_decomposed":  # what Keras 3's BatchNormalization freezes into
        c = lambda v, n: tf.identity(tf.constant(v), name=n)  # noqa: E731 - ReadVariableOp -> Identity
        scale = tf.math.rsqrt(c(var, "var") + eps) * c(gamma, "gamma")
        return y * scale + (c(beta, "beta") - c(mean, "mean") * scale)
    scale = tf.constant(gamma)
    if kind == "mul_only":
        return y * scale
    return tf.add(y * tf.reshape(scale, [1, 1, 1, channels]), tf.constant(beta))


def _bias(y, kind: str, bias: np.ndarray):
    """A conv bias as TF1 (``BiasAdd``), Keras 3 (``BiasAdd`` of ``Squeeze(Reshape(bias))``)
    or a broadcast ``AddV2`` adds it."""
    if kind == "BiasAdd":
        return tf.nn.bias_add(y, bias)
    if kind == "keras":
        read = tf.identity(tf.constant(bias))  # ReadVariableOp -> Identity once frozen
        return tf.nn.bias_add(y, tf.squeeze(tf.reshape(read, [1, 1, 1, -1]), axis=[0, 1, 2]))
    return tf.add(y, tf.reshape(tf.constant(bias), [1, 1, 1, -1]))


def _conv(conv: str, x, w: np.ndarray, stride: int, padding: str):
    strides = [1, stride, stride, 1]
    if conv == "Conv2D":
        return tf.nn.conv2d(x, w, strides, padding)
    return tf.nn.depthwise_conv2d(x, w, strides, padding)


def conv_bn_graph(conv, kernel, cin, cout, stride, padding, bias, bn, relu, seed):
    """A frozen graph: x -> conv [-> bias] -> BN [-> Relu6] -> out (all weights constants)."""
    rng = np.random.default_rng(seed)
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [None, 7, 7, cin], name="x")
        w = rng.normal(size=[kernel, kernel, cin, cout]).astype(np.float32)  # depthwise: multiplier
        y = _conv(conv, x, w, stride, padding)
        channels = cout if conv == "Conv2D" else cin * cout
        if bias:
            y = _bias(y, bias, rng.normal(size=channels).astype(np.float32))
        y = _batch_norm(y, bn, rng, channels)
        if relu:
            y = tf.nn.relu6(y)
        tf.identity(y, name="out")
    return g.as_graph_def()


@given(
    conv=st.sampled_from(["Conv2D", "DepthwiseConv2dNative"]),
    kernel=st.integers(1, 3),
    cin=st.integers(1, 4),
    cout=st.integers(1, 3),
    stride=st.integers(1, 2),
    padding=st.sampled_from(["SAME", "VALID"]),
    bias=st.sampled_from(BIAS_KINDS),
    bn=st.sampled_from(BN_KINDS),
    relu=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_folding_batch_norm_keeps_outputs(
    conv, kernel, cin, cout, stride, padding, bias, bn, relu, seed
):
    # TF 2.21's oneDNN weight cache confuses [1,1,1,1] Conv2D and depthwise kernels within one
    # process (the *unoptimized* graph then fails with "could not create a primitive descriptor").
    assume(kernel * cin * cout > 1)
    graph_def = conv_bn_graph(conv, kernel, cin, cout, stride, padding, bias, bn, relu, seed)
    folded = optimize(graph_def, outputs=["out"], inputs=["x"])
    ops = count_ops(folded)
    folded_away = {"FusedBatchNorm", "FusedBatchNormV3", "Mul", "Rsqrt", "Add", "AddV2"}
    assert not (folded_away | {"Squeeze", "Reshape"}) & set(ops), ops
    assert ops[conv] == 1 and ops["BiasAdd"] == 1
    x = np.random.default_rng(seed + 1).normal(size=[3, 7, 7, cin]).astype(np.float32)
    want, got = _run(graph_def, x), _run(folded, x)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(want).max()))


def pad_conv_graph(conv, kernel, channels, stride, pads, size, static, seed):
    """x -> Relu -> Pad(H, W by ``pads``) -> VALID conv -> BiasAdd -> Relu6 -> out."""
    rng = np.random.default_rng(seed)
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [None, size if static else None, size, channels], name="x")
        top, bottom, left, right = pads
        y = tf.pad(tf.nn.relu(x), [[0, 0], [top, bottom], [left, right], [0, 0]])
        w = rng.normal(size=[kernel, kernel, channels, 2]).astype(np.float32)
        y = _conv(conv, y, w, stride, "VALID")
        y = tf.nn.bias_add(y, rng.normal(size=y.shape[-1]).astype(np.float32))
        tf.identity(tf.nn.relu6(y), name="out")
    return g.as_graph_def()


@given(
    conv=st.sampled_from(["Conv2D", "DepthwiseConv2dNative"]),
    kernel=st.integers(1, 3),
    channels=st.integers(1, 3),
    stride=st.integers(1, 2),
    pads=st.tuples(*[st.integers(0, 2)] * 4),
    size=st.integers(4, 8),
    static=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_folding_pads_keeps_outputs(conv, kernel, channels, stride, pads, size, static, seed):
    graph_def = pad_conv_graph(conv, kernel, channels, stride, pads, size, static, seed)
    folded = optimize(graph_def, outputs=["out"], inputs=["x"])
    (node,) = [n for n in folded.node if n.op == conv]
    same = (
        static
        and pads[:2] == same_padding(size, kernel, stride)
        and pads[2:] == same_padding(size, kernel, stride)
    )
    # A depthwise conv gets SAME or keeps its Pad (EXPLICIT + BiasAdd + Relu6 aborts TF 2.21).
    assert count_ops(folded)["Pad"] == (0 if same or conv == "Conv2D" else 1)
    want_padding = b"SAME" if same else b"EXPLICIT" if conv == "Conv2D" else b"VALID"
    assert node.attr["padding"].s == want_padding
    x = np.random.default_rng(seed + 1).normal(size=[2, size, size, channels]).astype(np.float32)
    np.testing.assert_allclose(_run(folded, x), _run(graph_def, x), rtol=1e-5, atol=1e-5)


def test_keras_layers_fold_to_convolutions_bias_adds_and_one_pad():
    """Keras' ZeroPadding2D, conv biases and BatchNormalization fold; only the depthwise pad
    that SAME does not reproduce stays."""
    import keras

    from ftcore.export.pb import keras_graph_def

    keras.utils.set_random_seed(0)
    layers = keras.layers
    inp = keras.Input((16, 16, 3))
    y = layers.ZeroPadding2D(((0, 1), (0, 1)))(inp)  # SAME's padding for 3x3 stride 2 on 16
    y = layers.ReLU(6.0)(layers.BatchNormalization()(layers.Conv2D(8, 3, strides=2)(y)))
    y = layers.ZeroPadding2D(((1, 1), (1, 1)))(y)  # SAME for 3x3 stride 1
    y = layers.BatchNormalization()(layers.DepthwiseConv2D(3)(y))
    y = layers.ZeroPadding2D(((1, 1), (1, 1)))(y)  # SAME would pad (0, 1) for stride 2 on 8
    y = layers.DepthwiseConv2D(3, strides=2)(y)
    out = layers.Dense(4)(layers.GlobalAveragePooling2D()(y))
    model = keras.Model(inp, out)
    rng = np.random.default_rng(0)
    randomize_batch_norms(model, rng, gamma=(0.5, 1.5), variance=(0.5, 1.5))
    graph_def, inputs, outputs = keras_graph_def(model)
    folded = optimize(graph_def, outputs=[outputs[0].name], inputs=[inputs[0].name])
    ops = count_ops(folded)
    assert ops["Pad"] == 1 and not {"Mul", "AddV2", "Sub", "Squeeze", "Rsqrt"} & set(ops), ops
    assert ops["BiasAdd"] == 4  # three convolutions (bias + BN folded) and the Dense layer
    x = rng.normal(size=[3, 16, 16, 3]).astype(np.float32)
    got = _run(folded, x, output=outputs[0].name, inp=inputs[0].name)
    want = model(x, training=False).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def _conv_then(consumers):
    """x -> Conv2D -> ``consumers(conv_output)`` -> out, with constant weights."""
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [None, 5, 5, 2], name="x")
        y = tf.nn.conv2d(x, np.ones([1, 1, 2, 3], np.float32), [1, 1, 1, 1], "SAME")
        tf.identity(consumers(y), name="out")
    return g.as_graph_def()


@pytest.mark.parametrize(
    "consumers",
    [
        pytest.param(
            lambda y: y * np.arange(75, dtype=np.float32).reshape(5, 5, 3), id="not-per-channel"
        ),
        pytest.param(lambda y: y * np.float32([1, 2, 3]) + y, id="conv-output-used-twice"),
    ],
)
def test_folding_leaves_what_is_not_a_batch_norm(consumers):
    graph_def = _conv_then(consumers)
    folded = optimize(graph_def, outputs=["out"], inputs=["x"])
    assert count_ops(folded)["Mul"] == 1
    x = np.random.default_rng(0).normal(size=[2, 5, 5, 2]).astype(np.float32)
    np.testing.assert_allclose(_run(folded, x), _run(graph_def, x), rtol=1e-6)


def test_strip_training_nodes_bypasses_identities_and_checks_but_keeps_the_interface():
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [None, 3], name="x")
        y = tf.identity(tf.identity(x * 2.0))
        y = tf.debugging.check_numerics(y, "no nans")
        y = tf.stop_gradient(y) + 1.0
        tf.identity(y, name="out")
        tf.constant(5.0, name="unused")
    stripped = strip_training_nodes(g.as_graph_def(), outputs=["out"], keep=["x"])
    ops = count_ops(stripped)
    assert ops["Identity"] == 1 and "CheckNumerics" not in ops and "StopGradient" not in ops
    assert "unused" not in {n.name for n in stripped.node}
    x = np.float32([[1, 2, 3]])
    np.testing.assert_array_equal(_run(stripped, x), x * 2 + 1)
