"""Early stopping on val_loss and the best weights restored across stages."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from ftcore.keras import Checkpointing, FitOptions, fine_tune, head_stage, unfreeze_stage
from tests.helpers.keras_nets import data_for, tiny_net


def run(tmp_path, stages, **fit):
    """Validation labels shifted by one class: the better the model fits its training labels,
    the worse its val_loss, so the last epochs are worse than the first."""
    model = tiny_net()
    x, y = data_for(model, 24)
    keras.utils.set_random_seed(0)
    options = FitOptions(batch_size=8, shuffle=False, validation_data=(x, (y + 1) % 3), **fit)
    result = fine_tune(model, x, y, stages, options, checkpointing=Checkpointing(tmp_path))
    return model, result


def val_losses(result):
    return [v for s in result.stages for v in s.history.get("val_loss", [])]


def assert_weights_equal(a, b):
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_the_best_epoch_over_all_stages_is_returned_and_is_best_keras(tmp_path):
    stages = [head_stage(4, 0.5), unfreeze_stage("b1_dense", 3, 0.5)]
    model, result = run(tmp_path, stages)
    losses = val_losses(result)
    assert losses[-1] > min(losses), "the plan must end worse than its best for this test"
    best = result.best
    assert best.val_loss == pytest.approx(min(losses))
    flat = [
        (i, e + 1) for i, s in enumerate(result.stages) for e in range(len(s.history["val_loss"]))
    ]
    assert (best.stage, best.epoch) == flat[int(np.argmin(losses))]
    assert best.name == stages[best.stage].name
    saved = keras.models.load_model(tmp_path / "best.keras")
    assert_weights_equal(model, saved)


def test_restore_best_false_returns_the_last_weights(tmp_path):
    model, result = run(tmp_path, [head_stage(4, 0.5)], restore_best=False)
    assert result.best.epoch < 4
    saved = keras.models.load_model(tmp_path / "best.keras")
    assert not all(
        np.array_equal(a, b) for a, b in zip(model.get_weights(), saved.get_weights(), strict=True)
    )


def test_patience_stops_a_cached_and_an_uncached_stage_early(tmp_path):
    stages = [head_stage(10, 0.5), unfreeze_stage("b0_dense", 10, 0.5)]
    model, result = run(tmp_path, stages, early_stopping_patience=2)
    head, unfreeze = result.stages
    assert head.cached and not unfreeze.cached  # from the first layer: no prefix to cache
    assert len(head.history["val_loss"]) == result.best.epoch + 2 < 10
    # stage 2 never beats stage 1's best: it stops after `patience` epochs
    assert len(unfreeze.history["val_loss"]) == 2
    assert result.best.stage == 0
    assert_weights_equal(model, keras.models.load_model(tmp_path / "best.keras"))


def test_patience_needs_validation_data_and_a_positive_int():
    with pytest.raises(ValueError, match="needs validation_data: it watches val_loss"):
        FitOptions(early_stopping_patience=2)
    x, y = data_for(tiny_net(), 4)
    with pytest.raises(ValueError, match="None or an int >= 1, got 0"):
        FitOptions(early_stopping_patience=0, validation_data=(x, y))
