"""Accuracy and top-k accuracy.

>>> accuracy([0, 1, 1, 2], [0, 1, 0, 2])
0.75
>>> top_k_accuracy([1, 1], [[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]], k=2)
0.5
"""

from __future__ import annotations

import numpy as np

from ftcore.evaluate.inputs import InvalidScoresError, class_ids, same_length, scores_matrix


def accuracy(y_true, y_pred) -> float:
    """The fraction of examples whose predicted class is the true one (0.0 for none)."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    n = max(int(t.max(initial=0)), int(p.max(initial=0))) + 1
    t, p = class_ids(t, n, "y_true"), class_ids(p, n, "y_pred")
    return float(np.mean(t == p)) if same_length(y_true=t, y_pred=p) else 0.0


def top_k(scores, k: int) -> np.ndarray:
    """``[N, k]`` class ids by decreasing score (ties: the lower class id first, as argmax)."""
    s = scores_matrix(scores)
    if not 1 <= k <= s.shape[1]:
        raise InvalidScoresError(f"k={k} must be between 1 and the {s.shape[1]} classes")
    return np.argsort(-s, axis=1, kind="stable")[:, :k]


def top_k_accuracy(y_true, scores, k: int) -> float:
    """The fraction of examples whose true class is among their ``k`` highest scores."""
    s = scores_matrix(scores)
    t = class_ids(y_true, s.shape[1], "y_true")
    if not same_length(y_true=t, scores=s):
        return 0.0
    return float(np.mean((top_k(s, k) == t[:, None]).any(axis=1)))
