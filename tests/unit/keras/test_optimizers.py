"""Discriminative learning rates: per-variable multipliers scale each variable's step."""

from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np
import pytest

from ftcore.keras import discriminative_multipliers, fine_tune, unfreeze_stage
from ftcore.keras.optimizers import LayerwiseAdam, LayerwiseSGD
from tests.helpers.keras_nets import data_for
from tests.helpers.keras_nets import tiny_net as _tiny


def test_discriminative_lrs_scale_each_layers_step():
    """One SGD step with multipliers m: each variable moves m times its plain-SGD step."""
    plain, scaled = _tiny(), _tiny()
    x, y = data_for(plain, 8)
    stage = unfreeze_stage(0, epochs=1, learning_rate=0.1)
    stage.apply(scaled)  # multipliers depend on what trains
    mults = discriminative_multipliers(scaled, 0.01)
    w0 = {v.path: v.numpy().copy() for v in plain.trainable_variables}
    fine_tune(plain, x, y, [stage], batch_size=8, shuffle=False)
    fine_tune(scaled, x, y, [replace(stage, discriminative=0.01)], batch_size=8, shuffle=False)
    ratios = set()
    for vp, vs in zip(plain.trainable_variables, scaled.trainable_variables, strict=True):
        step_plain, step_scaled = vp.numpy() - w0[vp.path], vs.numpy() - w0[vs.path]
        m = mults.get(vs.path, 1.0)
        np.testing.assert_allclose(step_scaled, m * step_plain, rtol=1e-4, atol=1e-7)
        ratios.add(round(m, 6))
    assert sorted(ratios) == [0.01, 0.1, 1.0]  # b0_dense, b1_dense (BN stays frozen), head


def _dense(dtype="float32"):
    layer = keras.layers.Dense(2, name="d", dtype=dtype)
    layer.build((None, 3))
    return layer


@pytest.mark.parametrize("cls", [LayerwiseSGD, LayerwiseAdam])
@pytest.mark.parametrize(
    ("mult", "dtype", "rtol"), [(2.0, "float32", 1e-5), (0.3, "float64", 1e-10)]
)
def test_a_multiplier_scales_that_variables_step_only(cls, mult, dtype, rtol):
    """Above one too (a head asked to learn faster): the kernel moves ``mult`` times as far
    as with the plain optimizer, the bias (no multiplier) exactly as far; a float64 variable
    gets its rate scaled in float64 (not rounded to float32 first)."""
    plain_layer, scaled_layer = _dense(dtype), _dense(dtype)
    scaled_layer.set_weights(plain_layer.get_weights())
    before = [w.copy() for w in plain_layer.get_weights()]
    grads = [np.full((3, 2), 0.5, dtype), np.full((2,), -0.25, dtype)]
    plain = cls(learning_rate=0.1)
    scaled = cls(learning_rate=0.1, lr_multipliers={"d/kernel": mult})
    plain.apply_gradients(zip(grads, plain_layer.trainable_variables, strict=True))
    scaled.apply_gradients(zip(grads, scaled_layer.trainable_variables, strict=True))
    (kp, bp), (ks, bs) = plain_layer.get_weights(), scaled_layer.get_weights()
    np.testing.assert_allclose(ks - before[0], mult * (kp - before[0]), rtol=rtol)
    np.testing.assert_allclose(bs - before[1], bp - before[1], rtol=rtol)
    assert np.all(kp != before[0])


@pytest.mark.parametrize("cls", [LayerwiseSGD, LayerwiseAdam])
def test_the_multipliers_survive_serialization(cls):
    """A saved model's optimizer comes back with its multipliers (resume, ``.keras`` files)."""
    opt = cls(learning_rate=0.01, lr_multipliers={"d/kernel": 0.1, "e/bias": 3.0})
    back = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert type(back) is cls
    assert back.lr_multipliers == {"d/kernel": 0.1, "e/bias": 3.0}
    assert cls.from_config(opt.get_config()).lr_multipliers == opt.lr_multipliers


def test_the_learning_rate_may_be_given_by_position():
    """As for Keras' own optimizers: ``LayerwiseSGD(0.5)`` learns at 0.5, not the default."""
    assert float(LayerwiseSGD(0.5).learning_rate) == 0.5
    assert float(LayerwiseAdam(0.25, lr_multipliers={"d/kernel": 0.1}).learning_rate) == 0.25
