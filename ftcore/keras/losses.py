"""Label smoothing for sparse labels: class ids one-hot encoded, then Keras'
``CategoricalCrossentropy(label_smoothing=...)``. (Keras' sparse loss has no smoothing.)

    >>> import numpy as np
    >>> loss = SparseSmoothedCrossentropy(num_classes=2, label_smoothing=0.2)
    >>> round(float(loss(np.array([0]), np.array([[0.9, 0.1]]))), 4)
    0.3251
"""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="ftcore")
class SparseSmoothedCrossentropy(keras.losses.Loss):
    """Cross-entropy of probabilities against smoothed one-hot class ids."""

    def __init__(self, num_classes: int, label_smoothing: float, name="sparse_smoothed_ce", **kw):
        super().__init__(name=name, **kw)
        self.num_classes, self.label_smoothing = int(num_classes), float(label_smoothing)
        self._ce = keras.losses.CategoricalCrossentropy(
            label_smoothing=label_smoothing, reduction=None
        )

    def call(self, y_true, y_pred):
        ids = keras.ops.reshape(keras.ops.cast(y_true, "int32"), (-1,))
        return self._ce(keras.ops.one_hot(ids, self.num_classes), y_pred)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "label_smoothing": self.label_smoothing,
        }


def smoothed_loss(default: str, label_smoothing: float, num_classes: int):
    """The loss for ``default`` ("sparse_..." or "categorical_crossentropy") with smoothing."""
    if not label_smoothing:
        return default
    if default.startswith("sparse"):
        return SparseSmoothedCrossentropy(num_classes, label_smoothing)
    return keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
