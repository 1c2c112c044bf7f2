"""TF-slim compatible MobileNetV2, built from raw ``tf.compat.v1`` ops.

``tf.compat.v1.layers`` and ``tf_slim`` need legacy ``tf_keras`` layers that Keras 3
removed, so this module rebuilds the slim network (``research/slim/nets/mobilenet``)
op by op. Variable names and shapes follow the published slim checkpoints, so a real
``mobilenet_v2_1.4_224.ckpt`` restores into ``mobilenet_v2(..., depth_multiplier=1.4)``
unchanged::

    MobilenetV2/Conv/weights                                   [3, 3, 3, 32*dm]
    MobilenetV2/Conv/BatchNorm/{gamma,beta,moving_mean,moving_variance}
    MobilenetV2/expanded_conv/depthwise/depthwise_weights      [3, 3, C, 1]
    MobilenetV2/expanded_conv_N/{expand,depthwise,project}/...
    MobilenetV2/Conv_1/weights                   [1, 1, 320*dm, 1280*max(dm, 1)] (see below)
    MobilenetV2/Logits/Conv2d_1c_1x1/{weights,biases}

Below depth 1.0 the final ``Conv_1`` keeps its 1280 channels by default
(``finegrain_classification_mode=True``), as in slim's published 0.75, 0.5 and 0.35
checkpoints (and Keras' MobileNetV2); pass ``finegrain_classification_mode=False`` for slim's
own default, which shrinks it to ``1280*dm``.

End points carry the slim names: ``MobilenetV2/expanded_conv_14/output`` and
``MobilenetV2/Predictions/Reshape_1``. Build inside an explicit graph:

    >>> import tensorflow as tf
    >>> g = tf.Graph()
    >>> with g.as_default():
    ...     x = tf.compat.v1.placeholder(tf.float32, [None, 32, 32, 3], name="input")
    ...     logits, ends = mobilenet_v2(x, num_classes=5, depth_multiplier=0.35)
    >>> ends["expanded_conv_14/output"].name
    'MobilenetV2/expanded_conv_14/output:0'
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

#: (expansion factor, output channels, stride) for the 17 inverted-residual blocks.
BLOCKS: tuple[tuple[int, int, int], ...] = (
    (1, 16, 1),
    (6, 24, 2),
    (6, 24, 1),
    (6, 32, 2),
    (6, 32, 1),
    (6, 32, 1),
    (6, 64, 2),
    (6, 64, 1),
    (6, 64, 1),
    (6, 64, 1),
    (6, 96, 1),
    (6, 96, 1),
    (6, 96, 1),
    (6, 160, 2),
    (6, 160, 1),
    (6, 160, 1),
    (6, 320, 1),
)


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count the way slim's ``_make_divisible`` does.

    >>> make_divisible(32 * 1.4), make_divisible(1280 * 0.35), make_divisible(16 * 0.35)
    (48, 448, 8)
    """
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:  # never round down by more than 10%
        new_v += divisor
    return int(new_v)


def _conv_bn(
    x, out: int, kernel: int, stride: int, scope: str, ctx: Context, activation=tf.nn.relu6
):
    with v1.variable_scope(scope):
        w = weights("weights", [kernel, kernel, int(x.shape[-1]), out], ctx)
        y = tf.nn.conv2d(x, w, strides=[1, stride, stride, 1], padding="SAME")
        y = batch_norm(y, ctx)
        return activation(y) if activation is not None else y


def _depthwise_bn(x, stride: int, ctx: Context):
    with v1.variable_scope("depthwise"):
        w = weights("depthwise_weights", [3, 3, int(x.shape[-1]), 1], ctx, regularize=False)
        y = tf.nn.depthwise_conv2d(x, w, strides=[1, stride, stride, 1], padding="SAME")
        return tf.nn.relu6(batch_norm(y, ctx))


def _expanded_conv(x, expansion: int, out: int, stride: int, scope: str, ctx: Context, first: bool):
    with v1.variable_scope(scope):
        in_ch = int(x.shape[-1])
        inner = in_ch if first else make_divisible(in_ch * expansion)
        net = x
        if inner > in_ch:
            net = _conv_bn(net, inner, 1, 1, "expand", ctx)
            net = tf.identity(net, name="expand_output")
        net = _depthwise_bn(net, stride, ctx)
        net = tf.identity(net, name="depthwise_output")
        net = _conv_bn(net, out, 1, 1, "project", ctx, activation=None)
        net = tf.identity(net, name="project_output")
        if stride == 1 and in_ch == out:
            net = tf.add(net, x, name="add")
        return tf.identity(net, name="output")


def _base(inputs, ctx: Context, depth_multiplier, final_endpoint, finegrain_classification_mode):
    """The feature extractor, built inside an already opened network scope."""
    ends: dict[str, tf.Tensor] = {}

    def done(key: str, t: tf.Tensor) -> bool:
        ends[key] = t
        return final_endpoint == key

    net = _conv_bn(inputs, make_divisible(32 * depth_multiplier), 3, 2, "Conv", ctx)
    if done("Conv", net) or done("layer_1", net):
        return net, ends
    for i, (expansion, out, stride) in enumerate(BLOCKS):
        name = "expanded_conv" if i == 0 else f"expanded_conv_{i}"
        net = _expanded_conv(
            net, expansion, make_divisible(out * depth_multiplier), stride, name, ctx, i == 0
        )
        if done(f"{name}/output", net) or done(f"layer_{i + 2}", net):
            return net, ends
    last = (
        1280 if finegrain_classification_mode and depth_multiplier < 1 else 1280 * depth_multiplier
    )
    net = _conv_bn(net, make_divisible(last), 1, 1, "Conv_1", ctx)
    done("Conv_1", net)
    done("layer_19", net)
    if final_endpoint is not None and final_endpoint not in ends:
        from ftcore.errors import unknown_name

        raise unknown_name("MobileNetV2 end point", final_endpoint, ends)
    return net, ends


def mobilenet_v2_base(
    inputs: tf.Tensor,
    depth_multiplier: float = 1.0,
    is_training: bool = False,
    final_endpoint: str | None = None,
    finegrain_classification_mode: bool = True,
    bn_decay: float = 0.997,
    bn_epsilon: float = 0.001,
    weight_decay: float = 0.00004,
    stddev: float = 0.09,
    scope: str = "MobilenetV2",
) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """Build the feature extractor (``Conv`` .. ``Conv_1``); stop early at ``final_endpoint``.

    Returns the last tensor and a dict of end points keyed like slim
    (``"Conv"``, ``"expanded_conv_14/output"``, ``"layer_19"``, ...).
    """
    ctx = context(depth_multiplier, is_training, bn_decay, bn_epsilon, weight_decay, stddev)
    with v1.variable_scope(scope, reuse=v1.AUTO_REUSE):
        return _base(inputs, ctx, depth_multiplier, final_endpoint, finegrain_classification_mode)


def mobilenet_v2(
    inputs: tf.Tensor,
    num_classes: int = 1001,
    depth_multiplier: float = 1.0,
    is_training: bool = False,
    dropout_keep_prob: float = 0.8,
    finegrain_classification_mode: bool = True,
    bn_decay: float = 0.997,
    bn_epsilon: float = 0.001,
    weight_decay: float = 0.00004,
    stddev: float = 0.09,
    scope: str = "MobilenetV2",
) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """Build the whole slim MobileNetV2 classifier; returns ``(logits, end_points)``.

    ``end_points`` also holds ``"global_pool"``, ``"Logits"`` and ``"Predictions"``
    (the tensor ``<scope>/Predictions/Reshape_1:0``).
    """
    ctx = context(depth_multiplier, is_training, bn_decay, bn_epsilon, weight_decay, stddev)
    with v1.variable_scope(scope, reuse=v1.AUTO_REUSE):
        net, ends = _base(inputs, ctx, depth_multiplier, None, finegrain_classification_mode)
        with v1.variable_scope("Logits"):
            h, w = net.shape[1], net.shape[2]
            if h is not None and w is not None:
                net = tf.nn.avg_pool2d(net, [1, h, w, 1], [1, 1, 1, 1], "VALID", name="AvgPool")
            else:
                net = tf.reduce_mean(net, [1, 2], keepdims=True, name="AvgPool")
            ends["global_pool"] = net
            if ctx.is_training and dropout_keep_prob < 1:
                with tf.name_scope("Dropout"):
                    net = tf.nn.dropout(net, rate=1.0 - dropout_keep_prob)
            net = logits_1x1(net, num_classes, ctx)
            logits = tf.identity(tf.squeeze(net, [1, 2]), name="output")
        ends["Logits"] = logits
        ends["Predictions"] = predictions(logits, num_classes)
    return logits, ends
