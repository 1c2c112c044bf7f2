"""How often two models predict the same class, and who is right when they differ.

>>> agreement([0, 1, 2, 2], [0, 1, 1, 2])
0.75
>>> agreement_table([0, 1, 2, 2], [0, 1, 1, 2], [0, 1, 2, 0])
{'both_right': 2, 'only_a_right': 1, 'only_b_right': 1, 'both_wrong': 0}
"""

from __future__ import annotations

import numpy as np

from ftcore.evaluate.inputs import class_ids, same_length


def _ids(*arrays) -> list[np.ndarray]:
    arrs = [np.asarray(a) for a in arrays]
    n = max(int(a.max(initial=0)) for a in arrs) + 1
    return [class_ids(a, n, f"predictions {i}") for i, a in enumerate(arrs)]


def agreement(pred_a, pred_b) -> float:
    """The fraction of examples on which both models predict the same class (0.0 for none)."""
    a, b = _ids(pred_a, pred_b)
    return float(np.mean(a == b)) if same_length(pred_a=a, pred_b=b) else 0.0


def agreement_table(y_true, pred_a, pred_b) -> dict[str, int]:
    """Counts of examples both models got right, only one of them, or neither."""
    t, a, b = _ids(y_true, pred_a, pred_b)
    same_length(y_true=t, pred_a=a, pred_b=b)
    ra, rb = a == t, b == t
    return {
        "both_right": int(np.sum(ra & rb)),
        "only_a_right": int(np.sum(ra & ~rb)),
        "only_b_right": int(np.sum(~ra & rb)),
        "both_wrong": int(np.sum(~ra & ~rb)),
    }
