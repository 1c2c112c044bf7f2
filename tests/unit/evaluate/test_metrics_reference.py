"""Every metric against scikit-learn through the one shared tester (reference.py), on
hypothesis-made labelled sets, and the tester itself refusing a wrong value."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.evaluate.reference import CASES, TOLERANCES, assert_close, check_metric


@st.composite
def labelled_sets(draw):
    """(y_true, scores, scores of a second model, k): 3-6 classes, 1-60 examples, no ties."""
    c = draw(st.integers(3, 6))
    n = draw(st.integers(1, 60))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, draw(st.integers(1, c)), n)  # some classes may be absent
    skew = rng.normal(size=c) * draw(st.sampled_from([0.0, 3.0]))  # some never predicted
    scores = [rng.permutation(c) + skew + rng.random(c) * 1e-3 for _ in range(n)]
    scores_b = [rng.permutation(c) + rng.random(c) * 1e-3 for _ in range(n)]
    return y_true, np.array(scores), np.array(scores_b), draw(st.integers(1, c - 1))


def test_one_tolerance_per_metric():
    assert set(TOLERANCES) == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
@given(case=labelled_sets())
def test_metric_matches_scikit_learn(name, case):
    check_metric(name, *case)


@pytest.mark.parametrize("name", ["accuracy", "per_class", "averages"])
def test_the_imbalanced_case_matches_scikit_learn(name):
    y = np.array([0] * 90 + [1] * 10)
    scores = np.tile([0.8, 0.2], (100, 1))  # always "ok"
    check_metric(name, y, scores, scores, 1)


def test_the_tester_refuses_a_wrong_value():
    with pytest.raises(AssertionError):
        assert_close({"a": [0.5, 0.25]}, {"a": [0.5, 0.25 + 1e-9]}, 1e-12, "x")
    with pytest.raises(AssertionError):
        assert_close({"a": 1.0}, {"a": 1.0, "b": 2.0}, 0.0)
    with pytest.raises(AssertionError):
        assert_close([1, 2], [[1, 2]], 0.0)
