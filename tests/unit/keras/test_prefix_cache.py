"""The prefix cache: an unfreeze stage trained on the frozen prefix's cached outputs ends with
the weights of training through the whole model; it falls back, with the reason, otherwise."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from ftcore.errors import FtcoreError
from ftcore.keras import fine_tune, head_stage, unfreeze_stage
from ftcore.keras.feature_cache import extract_features
from ftcore.keras.head import attach_head
from ftcore.keras.prefix_cache import cache_start, plan_prefix, prefix_blockers, split_at

L = keras.layers

#: Cached vs uncached weights after a stage. Measured (benchmarks/cache_tolerance.py, 10 seeds
#: x SGD/momentum/Adam x both models, 3 epochs): at most 1.8e-7 absolute and 1.5e-5 relative to
#: max(|w|, 1e-3), from float32 reassociation; training moves weights by 1e-2 to 4e-1. ATOL
#: leaves a 50x margin for other CPUs' kernels and stays 1000x below any movement.
RTOL, ATOL = 1e-4, 1e-5


def chain_model(seed=0, extra=()):
    """MobileNet v1 in small: conv-BN-ReLU, then depthwise/pointwise blocks, then "gap"."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((12, 12, 3), name="img")
    h = L.Conv2D(6, 3, strides=2, padding="same", use_bias=False, name="c1")(inp)
    h = L.ReLU(6.0, name="r1")(L.BatchNormalization(name="bn1")(h))
    for layer in extra:
        h = layer(h)
    h = L.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw2")(h)
    h = L.ReLU(6.0, name="r2")(L.BatchNormalization(name="bn2")(h))
    h = L.Conv2D(8, 1, use_bias=False, name="pw2")(h)
    h = L.ReLU(6.0, name="r3")(L.BatchNormalization(name="bn3")(h))
    return attach_head(keras.Model(inp, h, name="chain"), "gap", num_classes=3)


def residual_model(seed=0):
    """A MobileNetV2-like block: ``add(r1, p(r2(e(r1))))`` after a stem, then "gap"."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((12, 12, 3), name="img")
    r1 = L.ReLU(name="r1")(L.Conv2D(6, 3, strides=2, padding="same", name="c1")(inp))
    h = L.ReLU(name="r2")(L.Conv2D(12, 1, name="e")(r1))
    h = L.Add(name="add")([r1, L.Conv2D(6, 1, name="p")(h)])
    h = L.Conv2D(8, 3, name="c4")(h)
    return attach_head(keras.Model(inp, h, name="residual"), "gap", num_classes=3)


def data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 12, 12, 3)).astype("float32"), (np.arange(n) % 3).astype("int64")


def _train(make, stage, cache, seed=0, data_seed=0, **fit):
    model = make(seed)
    x, y = data(seed=data_seed)
    keras.utils.set_random_seed(100 + seed)
    result = fine_tune(
        model, x, y, [stage], batch_size=8, shuffle=False, cache_features=cache, **fit
    )
    return model, result.stages[0]


def max_difference(a: keras.Model, b: keras.Model) -> tuple[float, float]:
    """(largest absolute, largest relative) weight difference between two same-shaped models."""
    d = [np.abs(u - v) for u, v in zip(a.get_weights(), b.get_weights(), strict=True)]
    r = [dd / np.maximum(np.abs(v), 1e-3) for dd, v in zip(d, b.get_weights(), strict=True)]
    return max(float(x.max()) for x in d), max(float(x.max()) for x in r)


def _name_at(model, index):
    return model.layers[index].name


def test_the_cut_is_the_first_trained_layer_or_the_head():
    model = chain_model()
    for stage, first in [
        (head_stage(), "head_pool"),
        (unfreeze_stage("dw2"), "dw2"),
        (unfreeze_stage("pw2"), "pw2"),
        (head_stage(train_bn=True), "bn1"),  # every pretrained BN trains: the cut moves up
    ]:
        stage.apply(model)
        assert _name_at(model, cache_start(model)) == first, stage
        assert plan_prefix(model).start == cache_start(model)


@pytest.mark.parametrize(("make", "first"), [(chain_model, "dw2"), (residual_model, "e")])
def test_split_composes_to_the_model(make, first):
    model = make()
    x, _ = data(4)
    start = [layer.name for layer in model.layers].index(first)
    prefix, suffix = split_at(model, start)
    assert [layer.name for layer in suffix.layers[1:]] == [
        layer.name for layer in model.layers[start:]
    ]
    np.testing.assert_allclose(
        suffix.predict(extract_features(prefix, x), verbose=0),
        model.predict(x, verbose=0),
        rtol=1e-5,
        atol=1e-6,
    )


EQUIVALENCE = [
    (chain_model, unfreeze_stage("dw2", 3, 0.05, "sgd")),
    (chain_model, unfreeze_stage("dw2", 3, 0.05, "momentum")),
    (chain_model, unfreeze_stage("pw2", 3, 0.05, "adam")),
    (residual_model, unfreeze_stage("e", 3, 0.05, "adam")),  # the add reads the cut tensor
    (chain_model, head_stage(3, 0.05, train_bn=True)),  # trainable BNs after the cut
]


@pytest.mark.parametrize(("make", "stage"), EQUIVALENCE)
@pytest.mark.parametrize("seed", [0, 1])
def test_cached_stage_gives_the_same_weights(make, stage, seed):
    """Same initial weights, same batches: cached and through-the-model runs agree within
    (RTOL, ATOL); the prefix is untouched and the trained part moved far beyond that."""
    initial = make(seed)
    (cached, c), (through, t) = (_train(make, stage, cache, seed, seed) for cache in (True, False))
    assert c.cached and not t.cached and c.cache_blockers == []
    start = cache_start(cached)
    assert max_difference(through, initial)[0] > 100 * ATOL  # it trained
    for layer in cached.layers:
        got, want = layer.get_weights(), through.get_layer(layer.name).get_weights()
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=layer.name)
    for layer in cached.layers[:start]:
        for a, b in zip(
            layer.get_weights(), initial.get_layer(layer.name).get_weights(), strict=True
        ):
            np.testing.assert_array_equal(a, b)


def test_two_stages_with_validation_data_agree():
    """The head stage's optimizer state is not carried over, the validation set goes through
    the prefix too: the whole run and its validation losses agree."""
    x, y = data(12, seed=5)
    stages = [head_stage(2, 0.05, "momentum"), unfreeze_stage("dw2", 2, 0.05, "adam")]
    runs = {}
    for cache in (True, False):
        model = chain_model(3)
        keras.utils.set_random_seed(7)
        xs, ys = data(seed=3)
        res = fine_tune(
            model,
            xs,
            ys,
            stages,
            batch_size=8,
            shuffle=False,
            cache_features=cache,
            validation_data=(x, y),
        )
        assert [s.cached for s in res.stages] == [cache, cache]
        runs[cache] = (model, res.stages[1].history["val_loss"])
    np.testing.assert_allclose(runs[True][1], runs[False][1], rtol=RTOL)
    for a, b in zip(runs[True][0].get_weights(), runs[False][0].get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


SKIP_REASON = "layer 'add' after the cut at 'p' reads 'r1' before it"


def test_a_skip_connection_across_the_cut_falls_back_with_the_reason():
    model, stage = _train(residual_model, unfreeze_stage("p", 1), "auto")
    assert stage.cached is False
    assert any(SKIP_REASON in r for r in stage.cache_blockers), stage.cache_blockers
    start = [layer.name for layer in model.layers].index("p")
    assert any(SKIP_REASON in r for r in prefix_blockers(model, start))
    with pytest.raises(ValueError, match="'add' \\(reads 'r1'\\)"):
        split_at(model, start)
    with pytest.raises(FtcoreError, match=SKIP_REASON):
        _train(residual_model, unfreeze_stage("p", 1), True)


@pytest.mark.parametrize(
    ("make", "stage", "fit", "reason"),
    [
        (
            lambda s: chain_model(s, [L.Dropout(0.3, name="drop")]),
            unfreeze_stage("dw2", 1),
            {},
            "prefix layer 'drop' (Dropout) behaves differently in training",
        ),
        (
            lambda s: chain_model(s, [L.GaussianNoise(0.1, name="noise")]),
            unfreeze_stage("dw2", 1),
            {},
            "prefix layer 'noise' (GaussianNoise) behaves differently in training",
        ),
        (chain_model, unfreeze_stage("dw2", 1), {"augment": lambda b: b[:, ::-1]}, "augmentation"),
        (chain_model, unfreeze_stage("c1", 1), {}, "nothing before 'c1' (the first layer that"),
    ],
)
def test_falls_back_with_the_reason(make, stage, fit, reason):
    model, result = _train(make, stage, "auto", **fit)
    assert result.cached is False
    assert any(reason in r for r in result.cache_blockers), result.cache_blockers
    assert any(reason in r for r in plan_prefix(model, fit.get("augment")).blockers)
    with pytest.raises(FtcoreError, match="feature caching is not valid"):
        _train(make, stage, True, **fit)


def test_a_prefix_cache_over_the_ram_budget_spills_to_disk_and_trains_the_same():
    # 24 training + 12 validation (6, 6, 6) float32 inputs of dw2: far over a 1 KiB budget
    v = data(12, seed=1)
    stage = unfreeze_stage("dw2", 1)
    spilled, result = _train(chain_model, stage, "auto", validation_data=v, cache_ram_bytes=1024)
    assert result.cached is True and result.cache_blockers == []
    through, _ = _train(chain_model, unfreeze_stage("dw2", 1), False, validation_data=v)
    for a, b in zip(spilled.get_weights(), through.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


def test_prefix_blockers_name_a_trainable_prefix_layer():
    model = chain_model()
    unfreeze_stage("c1").apply(model)
    start = [layer.name for layer in model.layers].index("dw2")
    assert "prefix layer 'c1' is trainable" in prefix_blockers(model, start)
    assert _name_at(model, plan_prefix(model).start) == "c1"
