"""The pieces slim's MobileNets share, from raw ``tf.compat.v1`` ops: weights with slim's
initializer and L2 regularizer, fused batch norm with moving averages in ``UPDATE_OPS``, and
the classifier tail (``Logits/Conv2d_1c_1x1`` and ``Predictions``), all under slim's names."""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

v1 = tf.compat.v1


@dataclass(frozen=True)
class Context:
    """Hyper-parameters every slim layer of a network shares."""

    is_training: bool
    bn_decay: float
    bn_epsilon: float
    weight_decay: float
    stddev: float


def weights(name: str, shape: list[int], ctx: Context, regularize: bool = True) -> tf.Variable:
    reg = None
    if regularize and ctx.weight_decay > 0:
        wd = ctx.weight_decay

        def reg(w):  # slim's l2_regularizer: wd * sum(w**2) / 2
            return tf.multiply(wd, tf.nn.l2_loss(w), name="l2_regularizer")

    return v1.get_variable(
        name, shape, initializer=v1.truncated_normal_initializer(stddev=ctx.stddev), regularizer=reg
    )


def batch_norm(x: tf.Tensor, ctx: Context) -> tf.Tensor:
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


def context(depth_multiplier, is_training, bn_decay, bn_epsilon, weight_decay, stddev) -> Context:
    if depth_multiplier <= 0:
        raise ValueError(f"depth_multiplier must be > 0, got {depth_multiplier}")
    return Context(bool(is_training), bn_decay, bn_epsilon, weight_decay, stddev)


def logits_1x1(net: tf.Tensor, num_classes: int, ctx: Context) -> tf.Tensor:
    """slim's ``Conv2d_1c_1x1``: a 1x1 convolution with biases to ``num_classes`` channels."""
    with v1.variable_scope("Conv2d_1c_1x1"):
        wts = weights("weights", [1, 1, int(net.shape[-1]), num_classes], ctx)
        b = v1.get_variable("biases", [num_classes], initializer=v1.zeros_initializer())
        return tf.nn.bias_add(tf.nn.conv2d(net, wts, [1, 1, 1, 1], "VALID"), b)


def predictions(logits: tf.Tensor, num_classes: int) -> tf.Tensor:
    """slim's ``Predictions``: softmax over classes, named ``<scope>/Predictions/Reshape_1``."""
    with tf.name_scope("Predictions"):
        flat = tf.reshape(logits, [-1, num_classes], name="Reshape")
        probs = tf.nn.softmax(flat, name="Softmax")
        return tf.reshape(probs, tf.shape(logits), name="Reshape_1")
