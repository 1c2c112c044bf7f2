"""Class weights: the same on cached and uncached stages, 'balanced' as its formula, refusals."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from ftcore.errors import MismatchError
from ftcore.keras import FitOptions, fine_tune, head_stage
from tests.helpers.keras_nets import data_for, tiny_net


def imbalanced(n=24):
    x, _ = data_for(tiny_net(), n)
    y = np.array([0] * (n - 6) + [1] * 4 + [2] * 2)
    return x, y


def trained(x, y=None, **fit):
    model = tiny_net()
    keras.utils.set_random_seed(0)
    fit = {"batch_size": 8, "shuffle": False, **fit}
    result = fine_tune(model, x, y, [head_stage(3, 0.2)], FitOptions(**fit))
    return model, result


def max_diff(a, b):
    return max(
        float(np.abs(p - q).max()) for p, q in zip(a.get_weights(), b.get_weights(), strict=True)
    )


@pytest.mark.parametrize("weights", ["balanced", {0: 0.5, 2: 4.0}])
def test_class_weights_train_the_same_cached_and_uncached(weights):
    x, y = imbalanced()
    cached, rc = trained(x, y, class_weight=weights)
    through, rt = trained(x, y, class_weight=weights, cache_features=False)
    assert rc.stages[0].cached and not rt.stages[0].cached
    assert max_diff(cached, through) <= 1e-5
    plain, _ = trained(x, y)
    assert max_diff(plain, cached) > 1e-3, "the class weights changed nothing"


def test_balanced_is_n_over_classes_times_count_also_on_a_dataset():
    x, y = imbalanced()
    n, counts = len(y), np.bincount(y)
    explicit = {c: n / (3 * counts[c]) for c in range(3)}
    by_formula, _ = trained(x, y, class_weight=explicit)
    balanced, _ = trained(x, y, class_weight="balanced")
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    streamed, _ = trained(ds, class_weight="balanced", cache_features=False)
    assert max_diff(by_formula, balanced) <= 1e-6
    assert max_diff(by_formula, streamed) <= 1e-5


def test_bad_class_weights_are_refused():
    x, y = imbalanced()
    with pytest.raises(MismatchError, match=r"class ids \[3, 7\] but the head outputs 3"):
        trained(x, y, class_weight={0: 1.0, 3: 2.0, 7: 1.0})
    with pytest.raises(ValueError, match="None, 'balanced' or a"):
        FitOptions(class_weight="inverse")
    with pytest.raises(ValueError, match=r"class_weight\[1\] = -1.0: expected a finite"):
        FitOptions(class_weight={1: -1.0})
    with pytest.raises(MismatchError, match=r"'balanced': class ids \[2\] have no training"):
        trained(x[:20], y[:20], class_weight="balanced")
