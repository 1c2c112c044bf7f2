"""Discriminative learning rates, layer by layer in the order asked for: the geometric schedule
rises from ``lowest`` at the earliest trainable base layer to 1 at the head, and one real
training step moves each layer's weights by exactly its own rate (SGD) or step size (Adam),
for the schedule and for an explicit ``{path: multiplier}`` in an order that is not monotonic."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from ftcore.keras import Stage, discriminative_multipliers

LAYERS = ["l1", "l2", "l3", "l4"]  # base layers, in model order; then the head "head_out"


def _model() -> keras.Model:
    keras.utils.set_random_seed(0)
    layers = [keras.layers.Dense(3, name=n) for n in LAYERS]
    return keras.Sequential([keras.Input((3,)), *layers, keras.layers.Dense(2, name="head_out")])


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(8, 3)).astype(np.float32), rng.normal(size=(8, 2)).astype(np.float32)


def _per_layer(model, mults: dict[str, float]) -> list[float]:
    return [mults.get(v.path, 1.0) for name in LAYERS for v in model.get_layer(name).weights]


def test_the_schedule_rises_from_lowest_at_the_earliest_layer_to_1_at_the_head():
    model = _model()
    mults = discriminative_multipliers(model, 0.01)
    by_layer = [mults[model.get_layer(n).kernel.path] for n in LAYERS]
    assert by_layer[0] == pytest.approx(0.01)
    assert all(a < b for a, b in zip(by_layer, by_layer[1:], strict=False)), by_layer
    assert by_layer[-1] < 1
    np.testing.assert_allclose(by_layer, 0.01 ** (np.arange(4, 0, -1) / 4))
    for name in LAYERS:  # a layer's kernel and bias share its rate
        layer = model.get_layer(name)
        assert mults[layer.kernel.path] == mults[layer.bias.path]
    assert not [p for p in mults if p.startswith("head_out/")]  # the head keeps the full rate


def _one_step(model, stage: Stage) -> tuple[list, list, list]:
    """(weights before, after, gradients) of one real training step of ``stage``."""
    stage.apply(model)
    model.compile(optimizer=stage.make_optimizer(model), loss="mse")
    x, y = _data()
    with tf.GradientTape() as tape:
        loss = keras.losses.MeanSquaredError()(y, model(x, training=True))
    variables = [v for name in LAYERS for v in model.get_layer(name).weights]
    grads = [g.numpy() for g in tape.gradient(loss, variables)]
    before = [v.numpy() for v in variables]
    model.train_on_batch(x, y)
    return before, [v.numpy() for v in variables], grads


EXPLICIT = {"l1": 0.5, "l2": 0.05, "l3": 1.0, "l4": 0.2}  # not monotonic: no order assumed


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("schedule", ["geometric", "explicit"])
def test_one_step_moves_each_layer_by_its_own_rate(optimizer, schedule):
    model = _model()
    if schedule == "geometric":
        asked = 0.01
        want = _per_layer(model, discriminative_multipliers(model, 0.01))
    else:
        asked = {v.path: EXPLICIT[n] for n in LAYERS for v in model.get_layer(n).weights}
        want = _per_layer(model, asked)
    lr = 0.1
    stage = Stage("all", train="all", optimizer=optimizer, learning_rate=lr, discriminative=asked)
    before, after, grads = _one_step(model, stage)
    for i, (b, a, g, mult) in enumerate(zip(before, after, grads, want, strict=True)):
        step = b - a
        if optimizer == "sgd":  # w -= lr * mult * g
            np.testing.assert_allclose(step, lr * mult * g, rtol=1e-4, atol=1e-7, err_msg=str(i))
        else:  # Adam's first step: lr * mult * g / (|g| + eps), i.e. lr * mult where |g| >> eps
            big = np.abs(g) > 1e-3
            assert big.any()
            np.testing.assert_allclose(np.abs(step[big]), lr * mult, rtol=1e-2, err_msg=str(i))
