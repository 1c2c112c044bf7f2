"""``FitOptions.class_weight`` as one weight per class: ``"balanced"`` (from the training
labels, as scikit-learn's ``n_samples / (n_classes * count_c)``) or a ``{class id: weight}``
dict (classes it leaves out weigh 1). The loop weights each training example by its class,
in cached stages (sample weights of :func:`~ftcore.keras.feature_cache.fit_features`) and
uncached ones (Keras' ``fit(class_weight=...)``) alike; validation loss is not weighted.

    >>> class_weight_vector("balanced", lambda: np.array([0, 0, 0, 1]), 2).tolist()
    [0.6666666865348816, 2.0]
    >>> class_weight_vector({1: 3.0}, None, 2).tolist()
    [1.0, 3.0]
    >>> class_weight_vector({2: 1.0}, None, 2)
    Traceback (most recent call last):
    ftcore.errors.MismatchError: class_weight names class ids [2] but the head outputs 2 classes (ids 0..1)
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping

import numpy as np

from ftcore.errors import MismatchError


def check_class_weight(spec) -> None:
    """Refuse what ``FitOptions.class_weight`` cannot be (before any training)."""
    if spec is None or spec == "balanced":
        return
    if not isinstance(spec, Mapping):
        raise ValueError(
            f"FitOptions.class_weight must be None, 'balanced' or a {{class id: weight}} dict, "
            f"got {spec!r}"
        )
    for k, w in spec.items():
        if isinstance(k, bool) or not isinstance(k, numbers.Integral):
            raise ValueError(f"FitOptions.class_weight: key {k!r} is not an integer class id")
        if isinstance(w, bool) or not isinstance(w, numbers.Real) or not np.isfinite(w) or w < 0:
            raise ValueError(f"FitOptions.class_weight[{k}] = {w!r}: expected a finite number >= 0")


def class_weight_vector(
    spec, labels: Callable[[], np.ndarray] | None, n_classes: int
) -> np.ndarray | None:
    """One float32 weight per class id, or None without class weights. ``labels()`` gives
    the training class ids (called for ``"balanced"`` only)."""
    if spec is None:
        return None
    if spec == "balanced":
        ids = labels()
        counts = np.bincount(ids, minlength=n_classes)
        empty = np.flatnonzero(counts == 0).tolist()
        if empty:
            raise MismatchError(
                f"class_weight='balanced': class ids {empty} have no training examples "
                f"(counts {counts.tolist()}); pass a dict or leave class_weight=None"
            )
        return (len(ids) / (n_classes * counts)).astype("float32")
    unknown = sorted(int(k) for k in spec if not 0 <= int(k) < n_classes)
    if unknown:
        raise MismatchError(
            f"class_weight names class ids {unknown} but the head outputs {n_classes} classes "
            f"(ids 0..{n_classes - 1})"
        )
    out = np.ones(n_classes, "float32")
    for k, w in spec.items():
        out[int(k)] = w
    return out
