"""The loop: each stage trains exactly what it should, frozen BN stays in inference mode, train_bn, bad data, forced caching."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftcore.errors import EmptyDataError, FtcoreError, MismatchError
from ftcore.keras import (
    Stage,
    fine_tune,
    head_stage,
    unfreeze_stage,
)
from ftcore.keras.head import attach_head
from ftcore.keras.trainable import leaves
from tests.helpers.keras_nets import build_net, changed, data_for, net_specs, snapshot
from tests.helpers.keras_nets import tiny_net as _tiny

OPTIMIZERS = ["sgd", "momentum", "adam"]


def assert_frozen_unchanged_trainable_changed(model, before, trained_paths):
    """Every weight of a frozen layer is bitwise unchanged, every trainable variable moved."""
    after = snapshot(model)
    diff = changed(before, after)
    trainable_vars = {
        path: {v.path for v in layer._trainable_variables} for path, layer in leaves(model)
    }
    for path, vs in diff.items():
        if path in trained_paths:
            for name in trainable_vars[path]:
                assert vs[name], f"trainable {name} did not change"
        else:
            moved = [name for name, c in vs.items() if c]
            assert not moved, f"frozen layer {path}: {moved} changed"


@pytest.mark.slow
@settings(max_examples=10)
@given(
    spec=net_specs(),
    boundary=st.one_of(st.none(), st.integers(1, 30)),
    optimizer=st.sampled_from(OPTIMIZERS),
    batch=st.sampled_from([8, 16]),
    n=st.sampled_from([16, 24]),
    cache=st.booleans(),
    train_bn=st.booleans(),
)
def test_stage_trains_exactly_what_it_should(spec, boundary, optimizer, batch, n, cache, train_bn):
    """Head-only (boundary None) or unfreeze-from-k: layers < k, BN moving stats included, are
    bitwise unchanged; every trainable variable of layers >= k (and the head) changed.
    ``train_bn``: True trains every pretrained (base) BN layer, False freezes them all; head BN
    layers follow the stage's selection."""
    model = build_net(spec)
    x, y = data_for(model, n)
    order = [p for p, _ in leaves(model)]
    kw = {"epochs": 1, "learning_rate": 0.05, "optimizer": optimizer, "train_bn": train_bn}
    if boundary is None:
        stage = head_stage(**kw)
    else:
        k = boundary % len(order)
        stage = unfreeze_stage(order[k], **kw)
    before = snapshot(model)
    result = fine_tune(
        model,
        x,
        y,
        [stage],
        batch_size=batch,
        shuffle=False,
        cache_features="auto" if cache else False,
    )
    trained = set(result.stages[0].trained)
    bn = {
        p
        for p, layer in leaves(model)
        if isinstance(layer, keras.layers.BatchNormalization) and not p.startswith("head_")
    }
    expected = {p for p in order if p.startswith("head_")} if boundary is None else set(order[k:])
    expected = expected | bn if train_bn else expected - bn
    assert trained == expected
    assert_frozen_unchanged_trainable_changed(model, before, trained)


@pytest.mark.slow
def test_frozen_batchnorm_runs_in_inference_mode():
    """A frozen BN normalises with its moving statistics while training, not batch statistics."""
    spec = {"kind": "dense", "blocks": [(3, True, False)], "head_bn": False}
    model = build_net(spec)
    bn = model.get_layer("b0_bn")
    x, y = data_for(model, 16)
    probe = keras.Model(model.inputs, bn.output)
    bn.moving_mean.assign([5.0, -5.0, 5.0])  # far from any batch mean: batch stats would differ
    stats = bn.get_weights()
    inference = probe(x, training=False).numpy()
    assert not np.allclose(probe(x, training=True).numpy(), inference)  # trainable: batch stats
    bn.set_weights(stats)  # that training-mode call moved the moving statistics
    Stage("head").apply(model)
    assert np.array_equal(probe(x, training=True).numpy(), inference)
    before = snapshot(model)
    fine_tune(model, x, y, [head_stage(epochs=2)], cache_features=False)
    assert_frozen_unchanged_trainable_changed(
        model, before, {p for p, _ in leaves(model) if p.startswith("head_")}
    )


def test_train_bn_trains_batchnorm_affine_only():
    model = _tiny()
    x, y = data_for(model, 8)
    before = snapshot(model)
    result = fine_tune(model, x, y, [head_stage(1, train_bn=True)], cache_features=False)
    assert "b1_bn" in result.stages[0].trained and "b0_dense" not in result.stages[0].trained
    assert result.stages[0].cached is False
    diff = changed(before, snapshot(model))
    assert not any(diff["b0_dense"].values())
    assert diff["b1_bn"]["b1_bn/gamma"] and diff["b1_bn"]["b1_bn/beta"]


@pytest.mark.parametrize(
    ("mutate", "error", "message"),
    [
        (lambda x, y: (x[:0], y[:0]), EmptyDataError, "training set is empty"),
        (lambda x, y: (x, y[:-1]), MismatchError, "8 inputs but 7 labels"),
        (lambda x, y: (x, y + 5), MismatchError, r"labels range 5\.\.7 but the head outputs 3"),
        (
            lambda x, y: (x[:, :4], y),
            MismatchError,
            r"inputs have shape \(4,\), the model expects \(5,\)",
        ),
        (lambda x, y: (x, np.eye(5)[y]), MismatchError, "one-hot with 5"),
    ],
)
def test_bad_data_is_refused_with_a_clear_error(mutate, error, message):
    model = _tiny()
    x, y = mutate(*data_for(model, 8))
    with pytest.raises(error, match=message) as info:
        fine_tune(model, x, y, [head_stage(1)])
    assert isinstance(info.value, FtcoreError)


def test_head_output_not_matching_labels():
    base = keras.Sequential([keras.Input((6, 6, 2)), keras.layers.Conv2D(3, 3, name="c")])
    model = attach_head(base, [keras.layers.Conv2D(3, 1, name="no_pooling")])
    x = np.zeros((4, 6, 6, 2), "float32")
    with pytest.raises(MismatchError, match=r"head outputs shape \(None, 4, 4, 3\).*add pooling"):
        fine_tune(model, x, np.array([0, 1, 2, 0]), [head_stage(1)])


def test_forcing_the_cache_when_invalid_names_the_reason():
    model = _tiny()
    x, y = data_for(model, 8)
    with pytest.raises(FtcoreError, match="augmentation"):
        fine_tune(model, x, y, [head_stage(1)], cache_features=True, augment=lambda b: b)


def test_unfreeze_from_past_the_end_is_an_error_not_a_stage_that_trains_nothing():
    """The seed recipe's ``model.layers[80:]`` on a model cut to fewer layers selected nothing."""
    base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="b")])
    model = attach_head(base, [keras.layers.Dense(2, name="logits")])
    with pytest.raises(
        FtcoreError,
        match=r"unfreeze_from=80 is past the end .* layers\), so it would train nothing",
    ):
        unfreeze_stage(80).plan(model)
