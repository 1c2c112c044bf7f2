"""BN folding and training-node stripping keep a graph's outputs (random conv/BN graphs)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import assume, given
from hypothesis import strategies as st

from ftcore.export.optimize import count_ops, optimize, strip_training_nodes

v1 = tf.compat.v1
BN_KINDS = ("FusedBatchNorm", "FusedBatchNormV3", "keras_decomposed", "mul_add", "mul_only")


def _run(graph_def, x, output="out:0"):
    g = tf.Graph()
    with g.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    with v1.Session(graph=g) as sess:
        return sess.run(output, {"x:0": x})


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


def conv_bn_graph(conv, kernel, cin, cout, stride, padding, bias, bn, relu, seed):
    """A frozen graph: x -> conv [-> BiasAdd] -> BN [-> Relu6] -> out (all weights constants)."""
    rng = np.random.default_rng(seed)
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [None, 7, 7, cin], name="x")
        if conv == "Conv2D":
            w = rng.normal(size=[kernel, kernel, cin, cout]).astype(np.float32)
            y = tf.nn.conv2d(x, w, [1, stride, stride, 1], padding)
            channels = cout
        else:
            w = rng.normal(size=[kernel, kernel, cin, cout]).astype(np.float32)  # cout = multiplier
            y = tf.nn.depthwise_conv2d(x, w, [1, stride, stride, 1], padding)
            channels = cin * cout
        if bias:
            y = tf.nn.bias_add(y, rng.normal(size=channels).astype(np.float32))
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
    bias=st.booleans(),
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
    assert not {"FusedBatchNorm", "FusedBatchNormV3", "Mul", "Rsqrt", "Add", "AddV2"} & set(ops), (
        ops
    )
    assert ops[conv] == 1 and ops["BiasAdd"] == 1
    x = np.random.default_rng(seed + 1).normal(size=[3, 7, 7, cin]).astype(np.float32)
    want, got = _run(graph_def, x), _run(folded, x)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(want).max()))


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
