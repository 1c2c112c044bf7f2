"""Feature caching gives the head weights of training through the frozen base; falls back."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from ftcore.keras import fine_tune, head_stage
from ftcore.keras.feature_cache import cache_blockers, extract_features, split_at_head
from ftcore.keras.head import attach_head, head_layers
from ftcore.keras.trainable import freeze


def model_with(extra=None, seed=0, dropout=0.2):
    """A conv base with BatchNormalization (and optionally ``extra`` layers), then "gap"."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((8, 8, 3), name="img")
    h = keras.layers.Conv2D(6, 3, padding="same", use_bias=False, name="c1")(inp)
    h = keras.layers.BatchNormalization(name="bn1")(h)
    h = keras.layers.ReLU(name="r1")(h)
    for layer in extra or []:
        h = layer(h)
    h = keras.layers.Conv2D(8, 3, strides=2, name="c2")(h)
    return attach_head(keras.Model(inp, h, name="base"), "gap", num_classes=3, dropout=dropout)


def data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 8, 8, 3)).astype("float32"), (np.arange(n) % 3).astype("int64")


def test_split_at_head_composes_to_the_model():
    model = model_with()
    x, _ = data(4)
    base, head = split_at_head(model)
    assert [layer.name for layer in head.layers[1:]] == [lr.name for lr in head_layers(model)]
    np.testing.assert_allclose(
        head.predict(extract_features(base, x), verbose=0),
        model.predict(x, verbose=0),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_cached_training_gives_the_same_head_weights(optimizer):
    """Same data order, same seeds: cached and through-the-base runs agree (dropout included)."""
    x, y = data()
    runs = {}
    for cache in (True, False):
        model = model_with()
        keras.utils.set_random_seed(1)
        result = fine_tune(
            model,
            x,
            y,
            [head_stage(3, 0.05, optimizer)],
            batch_size=8,
            shuffle=False,
            cache_features=cache,
        )
        assert result.stages[0].cached is cache
        runs[cache] = model
    initial = model_with().get_layer("head_logits").get_weights()
    for name in ("head_logits",):
        cached, through = (runs[c].get_layer(name).get_weights() for c in (True, False))
        for a, b, w0 in zip(cached, through, initial, strict=True):
            assert not np.allclose(a, w0)  # the head trained
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    for a, b in zip(runs[True].get_weights(), runs[False].get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)  # base identical too


@pytest.mark.parametrize(
    ("make", "kwargs", "reason"),
    [
        (
            lambda: model_with([keras.layers.Dropout(0.3, name="drop")]),
            {},
            "base layer 'drop' (Dropout) behaves differently in training",
        ),
        (
            lambda: model_with([keras.layers.GaussianNoise(0.1, name="noise")]),
            {},
            "'noise' (GaussianNoise) behaves differently",
        ),
        (model_with, {"augment": lambda b: b[:, ::-1]}, "an augmentation function"),
    ],
)
def test_falls_back_when_caching_is_not_valid(make, kwargs, reason):
    model = make()
    x, y = data(8)
    augment = kwargs.pop("augment", None)
    result = fine_tune(model, x, y, [head_stage(1, **kwargs)], augment=augment)
    stage = result.stages[0]
    assert stage.cached is False
    assert any(reason in r for r in stage.cache_blockers), stage.cache_blockers


def test_a_head_stage_with_train_bn_caches_the_prefix_before_the_first_bn():
    """train_bn=True makes 'bn1' train: the head cache cannot apply, the prefix cache (cut at
    'bn1', see test_prefix_cache) does; the head cache's own gate still names 'bn1'."""
    model = model_with()
    x, y = data(8)
    stage = fine_tune(model, x, y, [head_stage(1, train_bn=True)]).stages[0]
    assert stage.cached is True and stage.cache_blockers == []
    assert "base layer 'bn1' is trainable" in cache_blockers(model)


def test_blockers_for_a_trainable_base_and_no_head():
    model = model_with()
    assert "base layer 'c1' is trainable" in cache_blockers(model)
    assert "base layer 'bn1' (BatchNormalization) behaves differently in training" not in (
        cache_blockers(model)
    )  # reported as trainable instead
    freeze(model, "base")
    assert cache_blockers(model) == []
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    assert cache_blockers(plain) == [f"model {plain.name!r} has no head_* layers"]
