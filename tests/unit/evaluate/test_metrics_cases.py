"""Hand-computed cases: the imbalanced set of issue 18, a class never predicted, a class
absent from the truth, ties in top-k; bad input refused on every entry point."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ftcore import evaluate as ev
from ftcore.errors import FtcoreError, MismatchError


def test_imbalanced_always_ok_scores_090_but_never_finds_a_defect():
    y = [0] * 90 + [1] * 10
    e = ev.evaluate_scores(y, [[0.7, 0.3]] * 100, ["ok", "defect"], ks=())
    assert e.accuracy == pytest.approx(0.90)
    assert e.per_class["recall"] == [1.0, 0.0]
    assert e.per_class["precision"] == pytest.approx([0.9, 0.0])  # defect never predicted: 0/0
    assert e.per_class["f1"] == pytest.approx([2 * 0.9 / 1.9, 0.0])
    assert e.per_class["support"] == [90, 10]
    assert e.averages["macro"]["recall"] == pytest.approx(0.5)
    assert e.averages["weighted"]["recall"] == pytest.approx(0.9)
    assert e.confusion.tolist() == [[90, 0], [10, 0]]
    assert e.most_confused == [("defect", "ok", 10)]
    assert len(e.misclassified) == 10 and {m.true for m in e.misclassified} == {"defect"}


def test_class_absent_from_the_truth_has_zero_recall_and_support():
    m = ev.per_class(ev.confusion_matrix([0, 0, 1], [0, 2, 1], 3))
    assert m["support"].tolist() == [2, 1, 0]
    assert m["recall"].tolist() == [0.5, 1.0, 0.0]  # class 2: 0/0 -> 0
    assert m["precision"].tolist() == [1.0, 1.0, 0.0]  # predicted once, wrongly
    assert m["f1"].tolist() == pytest.approx([2 / 3, 1.0, 0.0])
    avg = ev.averages(m)
    assert avg["macro"]["recall"] == pytest.approx(0.5)  # the absent class counts in macro
    assert avg["weighted"]["recall"] == pytest.approx(2 / 3)


def test_a_set_without_examples():
    m = ev.per_class(np.zeros((2, 2), int))
    assert ev.averages(m)["weighted"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert ev.accuracy([], []) == 0.0 and ev.agreement([], []) == 0.0


def test_top_k_ties_go_to_the_lower_class_id_as_argmax():
    assert ev.top_k([[0.2, 0.4, 0.4, 0.0]], 2).tolist() == [[1, 2]]
    assert ev.top_k_accuracy([2, 3], [[0.5, 0.5, 0.5, 0.0]] * 2, 2) == 0.0
    assert ev.top_k_accuracy([3, 0], [[0.1, 0.2, 0.3, 0.4], [0.0, 0.5, 0.3, 0.2]], 3) == 0.5


def test_most_confused_order_and_limit():
    cm = np.array([[5, 2, 3], [2, 4, 0], [0, 7, 1]])
    names = ["a", "b", "c"]
    assert ev.most_confused(cm, names) == [
        ("c", "b", 7),
        ("a", "c", 3),
        ("a", "b", 2),
        ("b", "a", 2),
    ]
    assert ev.most_confused(cm, names, n=1) == [("c", "b", 7)]
    with pytest.raises(ev.InvalidScoresError, match="does not fit 2 class names"):
        ev.most_confused(cm, names[:2])


def test_agreement_table_counts():
    t = ev.agreement_table([0, 1, 2, 2, 1], [0, 1, 1, 0, 0], [0, 2, 2, 0, 0])
    assert t == {"both_right": 1, "only_a_right": 1, "only_b_right": 1, "both_wrong": 2}


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize(
    "entry",
    [
        lambda s: ev.evaluate_scores([0, 1], s, ["a", "b"]),
        lambda s: ev.top_k_accuracy([0, 1], s, 1),
        lambda s: ev.top_k(s, 1),
    ],
    ids=["evaluate_scores", "top_k_accuracy", "top_k"],
)
def test_nan_and_inf_scores_refused_on_every_entry_point(entry, bad):
    with pytest.raises(ev.InvalidScoresError, match=r"1 NaN/inf value\(s\), first at row 1"):
        entry([[0.5, 0.5], [bad, 0.1]])


def test_bad_class_ids_and_shapes_refused():
    with pytest.raises(
        ev.InvalidScoresError, match=r"y_true\[1\] = 3 is not a class id; expected 0..1"
    ):
        ev.confusion_matrix([0, 3], [0, 1], 2)
    with pytest.raises(ev.InvalidScoresError, match="y_pred\\[0\\] = -1"):
        ev.confusion_matrix([0], [-1], 2)
    with pytest.raises(ev.InvalidScoresError, match="integer class ids, got dtype float64"):
        ev.accuracy([0.0, 1.0], [0, 1])
    with pytest.raises(ev.InvalidScoresError, match="1-D class ids"):
        ev.agreement([[0, 1]], [[0, 1]])
    with pytest.raises(MismatchError, match="lengths differ: {'y_true': 2, 'y_pred': 3}"):
        ev.confusion_matrix([0, 1], [0, 1, 1], 2)
    with pytest.raises(MismatchError, match="'paths': 1"):
        ev.evaluate_scores([0, 1], [[1, 0], [0, 1]], ["a", "b"], paths=["x.png"])
    with pytest.raises(ev.InvalidScoresError, match=r"scores have 2 classes but there are 3"):
        ev.evaluate_scores([0], [[1, 0]], ["a", "b", "c"])
    with pytest.raises(ev.InvalidScoresError, match=r"\[examples, classes\], got shape \(2,\)"):
        ev.top_k_accuracy([0, 1], [0.2, 0.8], 1)
    with pytest.raises(ev.InvalidScoresError, match="k=3 must be between 1 and the 2 classes"):
        ev.top_k_accuracy([0], [[0.2, 0.8]], 3)
    with pytest.raises(ev.InvalidScoresError, match="square with counts >= 0"):
        ev.per_class(np.array([[1, -1], [0, 1]]))
    assert issubclass(ev.InvalidScoresError, FtcoreError)


def test_evaluation_to_dict_and_top_k_left_out_when_trivial():
    e = ev.evaluate_scores([0, 1, 2], np.eye(3)[[0, 2, 2]], ["a", "b", "c"], ks=(2, 3))
    d = e.to_dict()
    assert list(e.top_k) == [2] and d["top_k_accuracy"] == {
        "2": pytest.approx(2 / 3)
    }  # tie: 0 first
    assert d["examples"] == 3 and d["misclassified"] == 1
    assert d["per_class"]["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert d["confusion_matrix"]["rows_true_cols_predicted"] == [[1, 0, 0], [0, 0, 1], [0, 0, 1]]
    assert e.misclassified == [ev.Misclassified("1", "b", "c", 1.0)]


def test_the_package_docstring_example_runs():
    import doctest

    assert doctest.testmod(ev).attempted > 0 and doctest.testmod(ev).failed == 0
