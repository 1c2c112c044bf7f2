"""TF-slim compatible MobileNetV1, built from raw ``tf.compat.v1`` ops.

The sibling of :mod:`ftcore.graph.nets.slim_mobilenet_v2` (same ops, same batch norm), for
``research/slim/nets/mobilenet_v1.py``. Variable names and shapes follow the published slim
checkpoints, so ``mobilenet_v1_1.0_224.ckpt`` restores into ``mobilenet_v1(x)`` unchanged::

    MobilenetV1/Conv2d_0/weights                          [3, 3, 3, 32*dm]
    MobilenetV1/Conv2d_0/BatchNorm/{gamma,beta,moving_mean,moving_variance}
    MobilenetV1/Conv2d_N_depthwise/depthwise_weights      [3, 3, C, 1]      N = 1..13
    MobilenetV1/Conv2d_N_pointwise/weights                [1, 1, C, C']
    MobilenetV1/Logits/Conv2d_1c_1x1/{weights,biases}

Op names follow slim's too (its base opens the ``MobilenetV1`` name scope twice): end points
are ``MobilenetV1/MobilenetV1/Conv2d_13_pointwise/Relu6`` and
``MobilenetV1/Predictions/Reshape_1``. Build inside an explicit graph:

    >>> import tensorflow as tf
    >>> g = tf.Graph()
    >>> with g.as_default():
    ...     x = tf.compat.v1.placeholder(tf.float32, [None, 64, 64, 3], name="input")
    ...     logits, ends = mobilenet_v1(x, num_classes=5, depth_multiplier=0.25)
    >>> ends["Conv2d_6_pointwise"].name, ends["Predictions"].name
    ('MobilenetV1/MobilenetV1/Conv2d_6_pointwise/Relu6:0', 'MobilenetV1/Predictions/Reshape_1:0')
"""

from __future__ import annotations

import tensorflow as tf

from ftcore.graph.nets.slim_ops import (
    Context,
    batch_norm,
    context,
    logits_1x1,
    predictions,
    weights,
)

v1 = tf.compat.v1

#: (stride, output channels) of the 13 depthwise-separable layers after ``Conv2d_0``.
LAYERS: tuple[tuple[int, int], ...] = (
    (1, 64),
    (2, 128),
    (1, 128),
    (2, 256),
    (1, 256),
    (2, 512),
    (1, 512),
    (1, 512),
    (1, 512),
    (1, 512),
    (1, 512),
    (2, 1024),
    (1, 1024),
)

#: End point names in build order (``final_endpoint`` takes one of these).
END_POINTS: tuple[str, ...] = ("Conv2d_0",) + tuple(
    f"Conv2d_{i}_{kind}" for i in range(1, 14) for kind in ("depthwise", "pointwise")
)


def _conv_bn(x, out: int, kernel: int, stride: int, scope: str, ctx: Context) -> tf.Tensor:
    with v1.variable_scope(scope):
        w = weights("weights", [kernel, kernel, int(x.shape[-1]), out], ctx)
        y = tf.nn.conv2d(x, w, strides=[1, stride, stride, 1], padding="SAME")
        return tf.nn.relu6(batch_norm(y, ctx), name="Relu6")


def _depthwise_bn(x, stride: int, scope: str, ctx: Context) -> tf.Tensor:
    with v1.variable_scope(scope):
        w = weights("depthwise_weights", [3, 3, int(x.shape[-1]), 1], ctx, regularize=False)
        y = tf.nn.depthwise_conv2d(x, w, strides=[1, stride, stride, 1], padding="SAME")
        return tf.nn.relu6(batch_norm(y, ctx), name="Relu6")


def _base(inputs, ctx: Context, depth_multiplier: float, min_depth: int, final_endpoint):
    """The feature extractor, in slim's doubled name scope ``<scope>/<scope>/``."""
    ends: dict[str, tf.Tensor] = {}

    def depth(d: int) -> int:
        return max(int(d * depth_multiplier), min_depth)

    with tf.name_scope(v1.get_variable_scope().name):
        net = ends["Conv2d_0"] = _conv_bn(inputs, depth(32), 3, 2, "Conv2d_0", ctx)
        if final_endpoint == "Conv2d_0":
            return net, ends
        for i, (stride, out) in enumerate(LAYERS, start=1):
            net = ends[f"Conv2d_{i}_depthwise"] = _depthwise_bn(
                net, stride, f"Conv2d_{i}_depthwise", ctx
            )
            if final_endpoint == f"Conv2d_{i}_depthwise":
                return net, ends
            net = ends[f"Conv2d_{i}_pointwise"] = _conv_bn(
                net, depth(out), 1, 1, f"Conv2d_{i}_pointwise", ctx
            )
            if final_endpoint == f"Conv2d_{i}_pointwise":
                return net, ends
    if final_endpoint is not None:
        from ftcore.errors import unknown_name

        raise unknown_name("MobileNetV1 end point", final_endpoint, END_POINTS)
    return net, ends


def mobilenet_v1_base(
    inputs: tf.Tensor,
    depth_multiplier: float = 1.0,
    is_training: bool = False,
    final_endpoint: str | None = None,
    min_depth: int = 8,
    bn_decay: float = 0.9997,
    bn_epsilon: float = 0.001,
    weight_decay: float = 0.00004,
    stddev: float = 0.09,
    scope: str = "MobilenetV1",
) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """Build ``Conv2d_0`` .. ``Conv2d_13_pointwise``; stop early at ``final_endpoint``.

    Returns the last tensor and a dict of end points keyed like slim (:data:`END_POINTS`).
    """
    ctx = context(depth_multiplier, is_training, bn_decay, bn_epsilon, weight_decay, stddev)
    with v1.variable_scope(scope, reuse=v1.AUTO_REUSE):
        return _base(inputs, ctx, depth_multiplier, min_depth, final_endpoint)


def mobilenet_v1(
    inputs: tf.Tensor,
    num_classes: int = 1001,
    depth_multiplier: float = 1.0,
    is_training: bool = False,
    dropout_keep_prob: float = 0.999,
    min_depth: int = 8,
    bn_decay: float = 0.9997,
    bn_epsilon: float = 0.001,
    weight_decay: float = 0.00004,
    stddev: float = 0.09,
    scope: str = "MobilenetV1",
) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """Build the whole slim MobileNetV1 classifier; returns ``(logits, end_points)``.

    ``end_points`` also holds ``"AvgPool_1a"``, ``"Logits"`` and ``"Predictions"`` (the
    tensor ``<scope>/Predictions/Reshape_1:0``). slim's ImageNet checkpoints have 1001
    classes: 0 is "background", 1..1000 the ImageNet classes.
    """
    ctx = context(depth_multiplier, is_training, bn_decay, bn_epsilon, weight_decay, stddev)
    with v1.variable_scope(scope, reuse=v1.AUTO_REUSE):
        net, ends = _base(inputs, ctx, depth_multiplier, min_depth, None)
        with v1.variable_scope("Logits"):
            h, w = net.shape[1], net.shape[2]
            if h is not None and w is not None:  # slim: 7x7, reduced for small inputs
                k = [1, min(h, 7), min(w, 7), 1]
                net = tf.nn.avg_pool2d(net, k, [1, 2, 2, 1], "VALID", name="AvgPool_1a/AvgPool")
            else:
                net = tf.reduce_mean(net, [1, 2], keepdims=True, name="AvgPool_1a/Mean")
            ends["AvgPool_1a"] = net
            if ctx.is_training and dropout_keep_prob < 1:
                with tf.name_scope("Dropout_1b"):
                    net = tf.nn.dropout(net, rate=1.0 - dropout_keep_prob)
            net = logits_1x1(net, num_classes, ctx)
            logits = tf.squeeze(net, [1, 2], name="SpatialSqueeze")
        ends["Logits"] = logits
        ends["Predictions"] = predictions(logits, num_classes)
    return logits, ends
