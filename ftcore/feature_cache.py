"""Feature caching: when only the head trains, run the frozen base once and train on its outputs.

This is retrain.py's bottleneck cache made automatic and safe. It is valid only when the base
computes the same function in every training step: no trainable base variable, no base layer
that behaves differently in training (a trainable BatchNormalization, Dropout, noise or random
augmentation layers), and no augmentation of the inputs. :func:`cache_blockers` lists what
prevents it; an empty list means training the head on cached features gives the same head
weights as training through the frozen base.

    >>> import keras
    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="a"),
    ...                       keras.layers.Dense(2, name="head_out")])
    >>> cache_blockers(m)
    ["base layer 'a' is trainable"]
    >>> m.layers[0].trainable = False
    >>> base, head = split_at_head(m); cache_blockers(m), head.layers[-1].name
    ([], 'head_out')
"""

from __future__ import annotations

import keras
import numpy as np

from ftcore.keras_freeze import leaves, trainable_flags
from ftcore.keras_head import head_start


def split_at_head(model: keras.Model) -> tuple[keras.Model, keras.Model]:
    """``(base, head)`` models sharing ``model``'s layers; ``head(base(x)) == model(x)``.

    The head model's input is the tensor that feeds the first ``head_*`` layer, so training
    the head model trains ``model``'s head layers.
    """
    k = head_start(model)
    if k >= len(model.layers):
        raise ValueError(f"model {model.name!r} has no head_* layers to split at")
    feature = model.layers[k].input
    if isinstance(feature, (list, tuple)):
        raise ValueError("feature caching needs a head with a single input tensor")
    base = keras.Model(model.inputs, feature, name=f"{model.name}_base")
    head = keras.Model(feature, model.outputs, name=f"{model.name}_head")
    return base, head


def cache_blockers(model: keras.Model, augment: object | None = None) -> list[str]:
    """Why training the head on cached base outputs would differ from training ``model``.

    Empty when caching is valid for a stage that trains ``model`` with its current flags.
    """
    k = head_start(model)
    if k >= len(model.layers):
        return [f"model {model.name!r} has no head_* layers"]
    reasons = ["an augmentation function is applied to the inputs"] if augment else []
    head_names = {layer.name for layer in model.layers[k:]}
    flags = trainable_flags(model)
    for path, layer in leaves(model):
        if path.split("/", 1)[0] in head_names:
            continue
        trainable = flags[path]
        if trainable and layer._trainable_variables:
            reasons.append(f"base layer {path!r} is trainable")
        elif _training_dependent(layer, trainable):
            reasons.append(
                f"base layer {path!r} ({type(layer).__name__}) behaves differently in training"
            )
    return reasons


_STOCHASTIC = ("Dropout", "Noise")


def _training_dependent(layer: keras.layers.Layer, trainable: bool) -> bool:
    """True if ``layer`` computes something else in training mode (given its flag)."""
    if isinstance(layer, keras.layers.BatchNormalization):
        return trainable
    kind = type(layer).__name__
    if any(s in kind for s in _STOCHASTIC) or kind.startswith("Random"):
        return True
    # A custom layer taking `training` may do anything with it: do not cache through it.
    return not type(layer).__module__.startswith("keras.") and layer._call_has_training_arg


def extract_features(base: keras.Model, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """The base's inference-mode outputs for ``x``, computed once.

    >>> import keras, numpy as np
    >>> base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> extract_features(base, np.zeros((5, 4), "float32")).shape
    (5, 3)
    """
    return np.asarray(base.predict(x, batch_size=batch_size, verbose=0))
