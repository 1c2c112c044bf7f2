"""Per-class precision, recall, F1 and support from a confusion matrix, and their averages.

Convention (as scikit-learn's ``zero_division=0`` over all classes): a ratio whose
denominator is 0 is 0.0 -- precision of a class never predicted, recall of a class absent
from the truth, and F1 when precision + recall is 0. Every class counts in the macro
average, absent or not; the weighted average weights by support (true count).

>>> import numpy as np
>>> m = per_class(np.array([[9, 0], [1, 0]]))  # 90% ok / 10% defect, always "ok"
>>> m["recall"].tolist(), m["precision"].tolist(), m["support"].tolist()
([1.0, 0.0], [0.9, 0.0], [9, 1])
>>> round(averages(m)["macro"]["recall"], 3), round(averages(m)["weighted"]["recall"], 3)
(0.5, 0.9)
"""

from __future__ import annotations

import numpy as np

from ftcore.evaluate.inputs import InvalidScoresError

METRICS = ("precision", "recall", "f1")


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros(num.shape, np.float64), where=den != 0)


def per_class(cm: np.ndarray) -> dict[str, np.ndarray]:
    """``precision``, ``recall``, ``f1`` (float64) and ``support`` (int64), one per class."""
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or (cm < 0).any():
        raise InvalidScoresError(f"a confusion matrix is square with counts >= 0, got {cm}")
    tp = np.diag(cm).astype(np.float64)
    precision = _ratio(tp, cm.sum(axis=0).astype(np.float64))
    recall = _ratio(tp, cm.sum(axis=1).astype(np.float64))
    f1 = _ratio(2 * precision * recall, precision + recall)
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": cm.sum(axis=1).astype(np.int64),
    }


def averages(metrics: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """``{"macro": {...}, "weighted": {...}}`` of precision, recall and F1 (0.0 with no
    support at all for the weighted one)."""
    support = metrics["support"].astype(np.float64)
    total = support.sum()
    return {
        "macro": {m: float(np.mean(metrics[m])) for m in METRICS},
        "weighted": {
            m: float(np.dot(metrics[m], support) / total) if total else 0.0 for m in METRICS
        },
    }
