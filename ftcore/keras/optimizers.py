"""Discriminative learning rates: Keras optimizers with per-variable LR multipliers."""

from __future__ import annotations

import keras

from ftcore.keras.head import in_head
from ftcore.keras.internals import optimizer_variable_index
from ftcore.keras.trainable import leaves, trainable_flags


class _LayerwiseLR:
    """Mixin: per-variable learning-rate multipliers (keyed by variable path)."""

    def __init__(self, *args, lr_multipliers: dict[str, float] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lr_multipliers = dict(lr_multipliers or {})

    def build(self, variables):
        self._ftcore_mults = [float(self.lr_multipliers.get(v.path, 1.0)) for v in variables]
        super().build(variables)

    def update_step(self, gradient, variable, learning_rate):
        mult = self._ftcore_mults[optimizer_variable_index(self, variable)]
        if mult != 1.0:
            learning_rate = keras.ops.cast(learning_rate, variable.dtype) * mult
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "lr_multipliers": self.lr_multipliers}


@keras.saving.register_keras_serializable(package="ftcore")
class LayerwiseSGD(_LayerwiseLR, keras.optimizers.SGD):
    """SGD with per-variable learning-rate multipliers ``lr_multipliers={path: factor}``."""


@keras.saving.register_keras_serializable(package="ftcore")
class LayerwiseAdam(_LayerwiseLR, keras.optimizers.Adam):
    """Adam with per-variable learning-rate multipliers ``lr_multipliers={path: factor}``."""


def discriminative_multipliers(model: keras.Model, lowest: float) -> dict[str, float]:
    """Geometric LR multipliers: the earliest trainable base layer gets ``lowest``, rising
    towards 1 at the head (head layers get 1), keyed by variable path.

    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, name="a"),
    ...                       keras.layers.Dense(2, name="b"), keras.layers.Dense(1, name="head_o")])
    >>> sorted(set(discriminative_multipliers(m, 0.01).values()))
    [0.01, 0.1]
    """
    flags = trainable_flags(model)
    base = [
        layer
        for path, layer in leaves(model)
        if flags[path] and layer.trainable_weights and not in_head(model, path)
    ]
    n = len(base)
    mults = {}
    for i, layer in enumerate(base):
        for v in layer.trainable_weights:
            mults[v.path] = float(lowest ** ((n - i) / n))
    return mults
