"""Checks shared by the metrics: class ids and score matrices, refused with a clear error.

>>> class_ids([0, 2, 1], 3, "y_true")
array([0, 2, 1])
>>> scores_matrix([[0.2, float("nan")]])
Traceback (most recent call last):
...
ftcore.evaluate.inputs.InvalidScoresError: scores hold 1 NaN/inf value(s), first at row 0 (row [0.2, nan]); scores must be finite
"""

from __future__ import annotations

import numpy as np

from ftcore.errors import FtcoreError, MismatchError


class InvalidScoresError(FtcoreError, ValueError):
    """Scores or class ids that cannot be judged (NaN/inf, wrong shape, out-of-range ids)."""


def class_ids(values, num_classes: int, what: str) -> np.ndarray:
    """``values`` as a 1-D int array of class ids in ``[0, num_classes)``."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InvalidScoresError(f"{what} must be 1-D class ids, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise InvalidScoresError(f"{what} must be integer class ids, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    bad = (arr < 0) | (arr >= num_classes)
    if bad.any():
        i = int(np.argmax(bad))
        raise InvalidScoresError(
            f"{what}[{i}] = {arr[i]} is not a class id; expected 0..{num_classes - 1}"
        )
    return arr


def scores_matrix(scores) -> np.ndarray:
    """``scores`` as a finite float64 ``[N, C]`` array (one row of class scores per example)."""
    arr = np.asarray(scores, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < 1:
        raise InvalidScoresError(f"scores must be [examples, classes], got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        row = int(np.argmax(bad.any(axis=1)))
        raise InvalidScoresError(
            f"scores hold {int(bad.sum())} NaN/inf value(s), first at row {row} "
            f"(row {arr[row].tolist()}); scores must be finite"
        )
    return arr


def same_length(**arrays: np.ndarray) -> int:
    """The common length of ``arrays`` (a :class:`MismatchError` naming each length if not)."""
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise MismatchError(f"lengths differ: {lengths}; expected one entry per example in each")
    return next(iter(lengths.values()))
