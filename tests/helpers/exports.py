"""Shared helpers for the export/predictor/CLI tests: a small Keras model with real BN
(the shared slim checkpoint is the session fixture ``slim_ckpt`` in tests/conftest.py)."""

from __future__ import annotations

import keras
import numpy as np


def small_keras_model(seed: int = 0) -> keras.Model:
    """Conv/BN/ReLU6 + depthwise/BN + head, with BN statistics far from their initial 0/1."""
    keras.utils.set_random_seed(seed)
    L = keras.layers
    x = inp = keras.Input((16, 16, 3))
    x = L.ReLU(6.0)(L.BatchNormalization()(L.Conv2D(8, 3, strides=2, use_bias=False)(x)))
    x = L.ReLU(6.0)(L.BatchNormalization()(L.DepthwiseConv2D(3, padding="same", use_bias=False)(x)))
    x = L.Dense(4, activation="softmax")(L.GlobalAveragePooling2D()(x))
    model = keras.Model(inp, x, name="small")
    randomize_batch_norms(model, np.random.default_rng(seed), gamma=(0.5, 2), variance=(0.2, 3))
    return model


def randomize_batch_norms(
    model: keras.Model,
    rng: np.random.Generator,
    gamma: tuple[float, float],
    variance: tuple[float, float],
) -> None:
    """Give every BatchNormalization layer statistics far from their initial 0/1 (so folding
    them is visible): gamma and variance uniform in the given ranges, beta and mean normal."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            g, b, m, v = layer.get_weights()
            layer.set_weights(
                [
                    rng.uniform(*gamma, g.shape),
                    rng.normal(size=b.shape),
                    rng.normal(size=m.shape),
                    rng.uniform(*variance, v.shape),
                ]
            )
