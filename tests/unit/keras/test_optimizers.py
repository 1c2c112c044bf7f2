"""Discriminative learning rates: per-variable multipliers scale each variable's step."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ftcore.keras import discriminative_multipliers, fine_tune, unfreeze_stage
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
