"""The one shared tester of the evaluate metrics: each metric against scikit-learn (an
independent reference) under ONE tolerance table (torchmetrics style)."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from ftcore import evaluate as ev

# metric -> absolute tolerance (float64 sums of at most a few hundred terms; counts exact)
TOLERANCES = {
    "accuracy": 1e-12,
    "top_k_accuracy": 1e-12,
    "confusion_matrix": 0,
    "per_class": 1e-12,
    "averages": 1e-12,
    "agreement": 1e-12,
}


def _per_class_ref(t, p, c):
    pr, rc, f1, sup = skm.precision_recall_fscore_support(t, p, labels=range(c), zero_division=0)
    return {"precision": pr, "recall": rc, "f1": f1, "support": sup}


def _averages_ref(t, p, c):
    out = {}
    for avg in ("macro", "weighted"):
        pr, rc, f1, _ = skm.precision_recall_fscore_support(
            t, p, labels=range(c), average=avg, zero_division=0
        )
        out[avg] = {"precision": pr, "recall": rc, "f1": f1}
    return out


# metric -> (ours, reference), both called as f(y_true, scores, scores_b, k)
CASES = {
    "accuracy": (
        lambda t, s, s2, k: ev.accuracy(t, s.argmax(1)),
        lambda t, s, s2, k: skm.accuracy_score(t, s.argmax(1)),
    ),
    "top_k_accuracy": (
        lambda t, s, s2, k: ev.top_k_accuracy(t, s, k),
        lambda t, s, s2, k: skm.top_k_accuracy_score(t, s, k=k, labels=range(s.shape[1])),
    ),
    "confusion_matrix": (
        lambda t, s, s2, k: ev.confusion_matrix(t, s.argmax(1), s.shape[1]),
        lambda t, s, s2, k: skm.confusion_matrix(t, s.argmax(1), labels=range(s.shape[1])),
    ),
    "per_class": (
        lambda t, s, s2, k: ev.per_class(ev.confusion_matrix(t, s.argmax(1), s.shape[1])),
        lambda t, s, s2, k: _per_class_ref(t, s.argmax(1), s.shape[1]),
    ),
    "averages": (
        lambda t, s, s2, k: ev.averages(
            ev.per_class(ev.confusion_matrix(t, s.argmax(1), s.shape[1]))
        ),
        lambda t, s, s2, k: _averages_ref(t, s.argmax(1), s.shape[1]),
    ),
    "agreement": (
        lambda t, s, s2, k: ev.agreement(s.argmax(1), s2.argmax(1)),
        lambda t, s, s2, k: skm.accuracy_score(s.argmax(1), s2.argmax(1)),
    ),
}


def assert_close(ours, ref, atol: float, where: str = "") -> None:
    """``ours`` equals ``ref`` within ``atol``, recursively over dicts (same keys)."""
    if isinstance(ref, dict):
        assert isinstance(ours, dict) and set(ours) == set(ref), (where, ours, ref)
        for key in ref:
            assert_close(ours[key], ref[key], atol, f"{where}[{key}]")
        return
    ours, ref = np.asarray(ours), np.asarray(ref)
    assert ours.shape == ref.shape, (where, ours.shape, ref.shape)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=atol, err_msg=where)


def check_metric(name: str, y_true, scores, scores_b, k: int) -> None:
    """THE shared tester: metric ``name`` against its reference, under its tolerance."""
    ours, ref = CASES[name]
    assert_close(
        ours(y_true, scores, scores_b, k), ref(y_true, scores, scores_b, k), TOLERANCES[name], name
    )
