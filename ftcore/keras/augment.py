"""``FitOptions.augment``: a preset name or a callable ``batch -> batch``, applied to training
batches only (never to validation data, never part of the model that is saved or exported).

Presets are Keras preprocessing layers called with ``training=True``, seeded
(``FitOptions.augment_seed``):

- ``"flip"``: horizontal ``RandomFlip``;
- ``"flip-crop"``: that, then ``RandomZoom`` zooming in by up to 20% (a random crop resized
  back to the input size);
- ``"flip-rotate"``: flip, then ``RandomRotation`` by up to +-18 degrees (0.05 of a turn);
- ``"flip-crop-rotate"``: all three.

Augmentation changes the inputs every epoch, so a stage it applies to cannot train on
cached features (:func:`~ftcore.keras.feature_cache.cache_blockers` says so).

    >>> import numpy as np
    >>> flip = augmentation("flip", seed=0)
    >>> flip(np.zeros((2, 8, 8, 3), "float32")).shape
    TensorShape([2, 8, 8, 3])
    >>> augmentation("flop")
    Traceback (most recent call last):
    ftcore.errors.UnknownNameError: unknown augment preset 'flop'; closest: 'flip', 'flip-crop'
"""

from __future__ import annotations

from collections.abc import Callable

import keras

from ftcore.errors import unknown_name

PRESETS: dict[str, tuple[str, ...]] = {
    "flip": ("flip",),
    "flip-crop": ("flip", "crop"),
    "flip-rotate": ("flip", "rotate"),
    "flip-crop-rotate": ("flip", "crop", "rotate"),
}


def _layer(kind: str, seed: int) -> keras.layers.Layer:
    if kind == "flip":
        return keras.layers.RandomFlip("horizontal", seed=seed)
    if kind == "crop":
        return keras.layers.RandomZoom((-0.2, 0.0), seed=seed + 1)
    return keras.layers.RandomRotation(0.05, seed=seed + 2)


def check_augment(augment) -> None:
    """Refuse an unknown preset name or a value that is neither a name nor callable."""
    if augment is None or callable(augment):
        return
    if not isinstance(augment, str) or augment not in PRESETS:
        raise unknown_name("augment preset", str(augment), list(PRESETS))


def augmentation(augment: str | Callable | None, seed: int = 0) -> Callable | None:
    """The callable that augments a training batch (``augment`` itself if callable)."""
    check_augment(augment)
    if augment is None or callable(augment):
        return augment
    layers = keras.Sequential(
        [_layer(k, seed) for k in PRESETS[augment]], name=f"augment_{augment}"
    )

    def apply(batch):
        return layers(batch, training=True)

    apply.__name__ = f"augment_{augment.replace('-', '_')}"
    return apply
