"""The confusion matrix (rows: true class, columns: predicted class) and its most-confused pairs.

>>> cm = confusion_matrix([0, 0, 1, 1, 1], [0, 1, 1, 0, 0], num_classes=2)
>>> cm.tolist()
[[1, 1], [2, 1]]
>>> most_confused(cm, ["ok", "defect"])
[('defect', 'ok', 2), ('ok', 'defect', 1)]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ftcore.evaluate.inputs import InvalidScoresError, class_ids, same_length


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """``[C, C]`` int64 counts: entry ``[t, p]`` is how many examples of class ``t`` were
    predicted as ``p``. Classes absent from both are rows/columns of zeros."""
    t = class_ids(y_true, num_classes, "y_true")
    p = class_ids(y_pred, num_classes, "y_pred")
    same_length(y_true=t, y_pred=p)
    return np.bincount(t * num_classes + p, minlength=num_classes**2).reshape(
        num_classes, num_classes
    )


def most_confused(
    cm: np.ndarray, class_names: Sequence[str], n: int | None = None
) -> list[tuple[str, str, int]]:
    """Off-diagonal ``(true, predicted, count)`` with count > 0, most frequent first (ties:
    by true then predicted class order); the first ``n`` if given."""
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] != len(class_names):
        raise InvalidScoresError(
            f"confusion matrix of shape {cm.shape} does not fit {len(class_names)} class names"
        )
    pairs = [
        (int(cm[t, p]), t, p)
        for t in range(len(class_names))
        for p in range(len(class_names))
        if t != p and cm[t, p] > 0
    ]
    pairs.sort(key=lambda c: (-c[0], c[1], c[2]))
    return [(class_names[t], class_names[p], count) for count, t, p in pairs[:n]]
