"""The options of a run: every impossible combination refused before anything is read, and
the options a --resume may not change."""

from __future__ import annotations

import pytest

from ftcore.errors import FtcoreError
from ftcore.train.config import RESUME_MAY_CHANGE, TrainConfig


@pytest.mark.parametrize(
    "options, message",
    [
        ({"epochs": 0}, "--epochs must be at least 1, got 0"),
        ({"image_size": 0}, "--image-size must be at least 1"),
        ({"batch_size": -1}, "--batch-size must be at least 1"),
        ({"unfreeze_epochs": 0}, "--unfreeze-epochs must be at least 1"),
        ({"lr": 0.0}, "--lr must be positive"),
        ({"unfreeze_lr": -1e-4}, "--unfreeze-lr must be positive"),
        ({"dropout": 1.0}, "--dropout must be in [0, 1)"),
        ({"assert_accuracy_at_least": 1.5}, "--assert-accuracy-at-least must be in [0, 1]"),
        (
            {"assert_accuracy_at_least": 0.5, "validation_split": 0.0},
            "--assert-accuracy-at-least needs a validation split",
        ),
        ({"int8": True, "validation_split": 0.0}, "--int8 needs a validation split"),
        ({"head_filters": 8}, "--head-filters and --head-norm apply to --head conv only"),
        ({"head_norm": True}, "--head-filters and --head-norm apply to --head conv only"),
    ],
)
def test_bad_options_are_refused(options, message):
    with pytest.raises(FtcoreError) as e:
        TrainConfig("photos", **options).check()
    assert message in str(e.value)


def test_good_options_pass():
    TrainConfig("photos", head="conv", head_filters=8, head_norm=True, int8=True).check()
    TrainConfig("photos", validation_split=0.0).check()


def test_resume_may_change_only_the_listed_options():
    stored = TrainConfig("photos", epochs=3).to_dict()
    again = TrainConfig("moved/photos", epochs=3, resume=True, verbose=True, int8=True)
    assert again.differences(stored) == []
    assert TrainConfig("photos", epochs=4, seed=1).differences(stored) == [
        "--epochs: 3 -> 4",
        "--seed: 0 -> 1",
    ]
    assert set(RESUME_MAY_CHANGE) < set(stored)


def test_a_run_from_before_an_option_resumes_with_its_default():
    stored = TrainConfig("photos").to_dict()
    del stored["augment"], stored["class_weights"]
    assert TrainConfig("photos").differences(stored) == []
    assert TrainConfig("photos", augment="flip").differences(stored) == [
        "--augment: None -> 'flip'"
    ]
