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
    MobilenetV2/Conv_1/weights                                 [1, 1, 320*dm, 1280*dm]
    MobilenetV2/Logits/Conv2d_1c_1x1/{weights,biases}

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

from dataclasses import dataclass

import tensorflow as tf

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


@dataclass(frozen=True)
class _Ctx:
    is_training: bool
    bn_decay: float
    bn_epsilon: float
    weight_decay: float
    stddev: float


def _weights(name: str, shape: list[int], ctx: _Ctx, regularize: bool = True) -> tf.Variable:
    reg = None
    if regularize and ctx.weight_decay > 0:
        wd = ctx.weight_decay

        def reg(w):  # slim's l2_regularizer: wd * sum(w**2) / 2
            return tf.multiply(wd, tf.nn.l2_loss(w), name="l2_regularizer")

    return v1.get_variable(
        name, shape, initializer=v1.truncated_normal_initializer(stddev=ctx.stddev), regularizer=reg
    )


def _batch_norm(x: tf.Tensor, ctx: _Ctx) -> tf.Tensor:
    """slim.batch_norm(center=True, scale=True, fused=True), moving averages in UPDATE_OPS."""
    c = x.shape[-1]
    with v1.variable_scope("BatchNorm"):
        beta = v1.get_variable("beta", [c], initializer=v1.zeros_initializer())
        gamma = v1.get_variable("gamma", [c], initializer=v1.ones_initializer())
        mean = v1.get_variable(
            "moving_mean",
            [c],
            initializer=v1.zeros_initializer(),
            trainable=False,
            collections=[v1.GraphKeys.GLOBAL_VARIABLES, v1.GraphKeys.MOVING_AVERAGE_VARIABLES],
        )
        var = v1.get_variable(
            "moving_variance",
            [c],
            initializer=v1.ones_initializer(),
            trainable=False,
            collections=[v1.GraphKeys.GLOBAL_VARIABLES, v1.GraphKeys.MOVING_AVERAGE_VARIABLES],
        )
        if not ctx.is_training:
            y, _, _ = v1.nn.fused_batch_norm(
                x, gamma, beta, mean=mean, variance=var, epsilon=ctx.bn_epsilon, is_training=False
            )
            return y
        y, batch_mean, batch_var = v1.nn.fused_batch_norm(
            x, gamma, beta, epsilon=ctx.bn_epsilon, is_training=True
        )
        rate = 1.0 - ctx.bn_decay
        with tf.name_scope("AssignMovingAvg"):
            upd_mean = mean.assign_sub((mean - batch_mean) * rate)
        with tf.name_scope("AssignMovingAvg_1"):
            upd_var = var.assign_sub((var - batch_var) * rate)
        v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, upd_mean)
        v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, upd_var)
        return y


def _conv_bn(x, out: int, kernel: int, stride: int, scope: str, ctx: _Ctx, activation=tf.nn.relu6):
    with v1.variable_scope(scope):
        w = _weights("weights", [kernel, kernel, int(x.shape[-1]), out], ctx)
        y = tf.nn.conv2d(x, w, strides=[1, stride, stride, 1], padding="SAME")
        y = _batch_norm(y, ctx)
        return activation(y) if activation is not None else y


def _depthwise_bn(x, stride: int, ctx: _Ctx):
    with v1.variable_scope("depthwise"):
        w = _weights("depthwise_weights", [3, 3, int(x.shape[-1]), 1], ctx, regularize=False)
        y = tf.nn.depthwise_conv2d(x, w, strides=[1, stride, stride, 1], padding="SAME")
        return tf.nn.relu6(_batch_norm(y, ctx))


def _expanded_conv(x, expansion: int, out: int, stride: int, scope: str, ctx: _Ctx, first: bool):
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


def _base(inputs, ctx: _Ctx, depth_multiplier, final_endpoint, finegrain_classification_mode):
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


def _context(depth_multiplier, is_training, bn_decay, bn_epsilon, weight_decay, stddev) -> _Ctx:
    if depth_multiplier <= 0:
        raise ValueError(f"depth_multiplier must be > 0, got {depth_multiplier}")
    return _Ctx(bool(is_training), bn_decay, bn_epsilon, weight_decay, stddev)


def mobilenet_v2_base(
    inputs: tf.Tensor,
    depth_multiplier: float = 1.0,
    is_training: bool = False,
    final_endpoint: str | None = None,
    finegrain_classification_mode: bool = False,
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
    ctx = _context(depth_multiplier, is_training, bn_decay, bn_epsilon, weight_decay, stddev)
    with v1.variable_scope(scope, reuse=v1.AUTO_REUSE):
        return _base(inputs, ctx, depth_multiplier, final_endpoint, finegrain_classification_mode)


def mobilenet_v2(
    inputs: tf.Tensor,
    num_classes: int = 1001,
    depth_multiplier: float = 1.0,
    is_training: bool = False,
    dropout_keep_prob: float = 0.8,
    finegrain_classification_mode: bool = False,
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
    ctx = _context(depth_multiplier, is_training, bn_decay, bn_epsilon, weight_decay, stddev)
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
            with v1.variable_scope("Conv2d_1c_1x1"):
                wts = _weights("weights", [1, 1, int(net.shape[-1]), num_classes], ctx)
                b = v1.get_variable("biases", [num_classes], initializer=v1.zeros_initializer())
                net = tf.nn.bias_add(tf.nn.conv2d(net, wts, [1, 1, 1, 1], "VALID"), b)
            logits = tf.identity(tf.squeeze(net, [1, 2]), name="output")
        ends["Logits"] = logits
        with tf.name_scope("Predictions"):
            flat = tf.reshape(logits, [-1, num_classes], name="Reshape")
            probs = tf.nn.softmax(flat, name="Softmax")
            ends["Predictions"] = tf.reshape(probs, tf.shape(logits), name="Reshape_1")
    return logits, ends
