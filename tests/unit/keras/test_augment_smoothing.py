"""Augmentation presets (training batches only, cache off, said plainly) and label smoothing
with sparse labels."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from ftcore.keras import FitOptions, fine_tune, head_stage
from ftcore.keras.augment import PRESETS, augmentation
from ftcore.keras.head import attach_head
from tests.helpers.keras_nets import data_for, tiny_net


def image_net(seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((8, 8, 3))
    h = keras.layers.Conv2D(4, 3, name="c")(inp)
    model = attach_head(keras.Model(inp, h), "gap", num_classes=3, dropout=0)
    model.get_layer("c").trainable = False
    return model


def images(n=16):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 8, 8, 3)).astype("float32"), np.arange(n) % 3


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_each_preset_changes_a_batch_and_keeps_its_shape(preset):
    x, _ = images(4)
    out = np.asarray(augmentation(preset, seed=3)(x))
    assert out.shape == x.shape
    assert not np.allclose(out, x)


def test_a_preset_turns_the_cache_off_and_says_so_and_stays_out_of_the_model():
    model = image_net()
    layers_before = [layer.name for layer in model.layers]
    x, y = images()
    result = fine_tune(model, x, y, [head_stage(1)], augment="flip-crop", batch_size=8)
    stage = result.stages[0]
    assert stage.cached is False
    assert stage.cache_blockers == [
        "augmentation preset 'flip-crop' is applied to the training inputs: augmentation "
        "turns the feature cache off for the stages it applies to (the frozen layers must see "
        "every augmented batch)"
    ]
    assert [layer.name for layer in model.layers] == layers_before  # inference is untouched
    plain = image_net()
    fine_tune(plain, x, y, [head_stage(1)], batch_size=8, shuffle=False, cache_features=False)
    assert not np.allclose(plain.get_weights()[-2], model.get_weights()[-2])


def test_an_unknown_preset_is_refused_with_close_matches():
    with pytest.raises(
        KeyError, match="unknown augment preset 'flip-rotation'; closest: 'flip-rotate'"
    ):
        FitOptions(augment="flip-rotation")


def trained(x, y, **fit):
    model = tiny_net()
    keras.utils.set_random_seed(0)
    fine_tune(model, x, y, [head_stage(3, 0.2)], FitOptions(batch_size=8, shuffle=False, **fit))
    return model


def max_diff(a, b):
    pairs = zip(a.get_weights(), b.get_weights(), strict=True)
    return max(float(np.abs(p - q).max()) for p, q in pairs)


@pytest.mark.parametrize("cache", [True, False])
def test_label_smoothing_on_sparse_labels_equals_smoothing_one_hot_labels(cache):
    x, y = data_for(tiny_net(), 24)
    sparse = trained(x, y, label_smoothing=0.2, cache_features=cache)
    one_hot = trained(x, np.eye(3, dtype="float32")[y], label_smoothing=0.2, cache_features=cache)
    explicit = trained(
        x,
        np.eye(3, dtype="float32")[y],
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.2),
    )
    assert max_diff(sparse, one_hot) <= 1e-6
    assert max_diff(sparse, explicit) <= 1e-5
    assert max_diff(sparse, trained(x, y, cache_features=cache)) > 1e-4


def test_label_smoothing_out_of_range_or_beside_a_loss_is_refused():
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\), got 1.0"):
        FitOptions(label_smoothing=1.0)
    with pytest.raises(ValueError, match="with loss= given"):
        FitOptions(label_smoothing=0.1, loss="sparse_categorical_crossentropy")
