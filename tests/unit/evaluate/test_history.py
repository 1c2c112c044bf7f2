"""The history structure: stages of per-epoch metrics (a Keras History accepted), what a bad
one is told, and the best epoch across stages."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ftcore import evaluate as ev
from ftcore.errors import MismatchError


def test_a_keras_history_per_stage_is_accepted():
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = np.random.default_rng(0).normal(size=(16, 4)), np.arange(16) % 2
    first = model.fit(x, y, epochs=2, validation_split=0.25, verbose=0)
    second = model.fit(x, y, epochs=3, validation_split=0.25, verbose=0)
    h = ev.history([("head", first), ("all", second.history)])
    assert [(s.name, s.epochs) for s in h] == [("head", 2), ("all", 3)]
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(h[0].metrics)
    assert h[1].metrics["loss"] == [float(v) for v in second.history["loss"]]
    epoch, stage, value = ev.best_epoch(h)
    assert value == min(first.history["val_loss"] + second.history["val_loss"])
    assert stage == ("head" if epoch < 2 else "all")


def test_best_epoch_over_stages_first_wins_nan_never():
    h = ev.history([("a", {"val_loss": [0.9, math.nan]}), ("b", {"val_loss": [0.5, 0.5]})])
    assert ev.best_epoch(h) == (2, "b", 0.5)
    h2 = ev.history([("a", {"acc": [0.1, 0.9]}), ("b", {"loss": [1.0], "acc": [0.9]})])
    assert ev.best_epoch(h2, "acc", "max") == (1, "a", 0.9)
    assert ev.best_epoch(h2, "loss") == (2, "b", 1.0)  # a stage without it is skipped


def test_best_epoch_refusals():
    h = ev.history([("a", {"loss": [math.nan]})])
    with pytest.raises(MismatchError, match=r"no stage records 'val_loss'; recorded: \['loss'\]"):
        ev.best_epoch(h)
    with pytest.raises(ev.InvalidHistoryError, match="every value of 'loss' is NaN"):
        ev.best_epoch(h, "loss")
    with pytest.raises(ev.InvalidHistoryError, match="mode must be 'min' or 'max'"):
        ev.best_epoch(h, "loss", "lowest")


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        ([], "non-empty list of stages"),
        ({"loss": [1.0]}, "non-empty list of stages"),
        ("head", "non-empty list of stages"),
        ([("", {"loss": [1.0]})], "stage 0: a stage name must be a non-empty string"),
        ([(3, {"loss": [1.0]})], "stage 0: a stage name must be a non-empty string"),
        ([("s", {})], r"stage 's': expected \{metric: \[value per epoch\]\}"),
        ([("s", [1.0, 2.0])], r"stage 's': expected \{metric"),
        ([("s", {"loss": ["low"]})], "stage 's', metric 'loss': expected numbers per epoch"),
        ([("s", {"loss": 1.0})], "stage 's', metric 'loss': expected numbers per epoch"),
        ([("s", {"loss": []})], "one value per epoch, got lengths {'loss': 0}"),
        ([("s", {"loss": [1.0], "acc": [0.1, 0.2]})], "got lengths {'loss': 1, 'acc': 2}"),
        ([("s", {"loss": [1.0]}), ("s", {"loss": [2.0]})], "stage names must be unique"),
    ],
)
def test_bad_histories_refused(stages, message):
    with pytest.raises(ev.InvalidHistoryError, match=message):
        ev.history(stages)


def test_stage_history_items_pass_through():
    h = ev.history([ev.StageHistory("a", {"loss": [1, 2]})])
    assert h == [ev.StageHistory("a", {"loss": [1.0, 2.0]})]
