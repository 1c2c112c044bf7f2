"""Stages, the compile guard, discriminative LRs, train_bn, bad data, checkpoints, TensorBoard."""

from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from ftcore.errors import EmptyDataError, FtcoreError, MismatchError, StaleCompileError
from ftcore.keras import (
    CompileGuard,
    Stage,
    check_compiled,
    compile_model,
    discriminative_multipliers,
    fine_tune,
    head_stage,
    unfreeze_stage,
)
from ftcore.keras.callbacks import read_checkpoint
from ftcore.keras.head import attach_head
from ftcore.keras.trainable import leaves, trainable_flags
from tests.helpers.keras_nets import build_net, changed, data_for, net_specs, snapshot

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
    train_bn=st.sampled_from([None, True, False]),
)
def test_stage_trains_exactly_what_it_should(spec, boundary, optimizer, batch, n, cache, train_bn):
    """Head-only (boundary None) or unfreeze-from-k: layers < k, BN moving stats included, are
    bitwise unchanged; every trainable variable of layers >= k (and the head) changed.
    ``train_bn``: True trains every BN layer; False freezes all; None freezes them in unfreeze
    stages only."""
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
    bn = {p for p, layer in leaves(model) if isinstance(layer, keras.layers.BatchNormalization)}
    expected = {p for p in order if p.startswith("head_")} if boundary is None else set(order[k:])
    if train_bn or (train_bn is None and boundary is None):
        expected |= bn if train_bn else set()  # None: a head-only stage trains head BN as selected
    else:
        expected -= bn  # False, or None in an unfreeze stage: BN stays frozen
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


def _tiny():
    spec = {"kind": "dense", "blocks": [(3, False, False), (3, True, False)], "head_bn": False}
    return build_net(spec)


def test_keras_ignores_trainable_changes_after_compile_and_the_guard_raises():
    model = _tiny()
    x, y = data_for(model, 8)
    compile_model(model, keras.optimizers.SGD(0.1))
    check_compiled(model)
    model.fit(x, y, epochs=1, verbose=0)
    model.get_layer("head_logits").trainable = False  # after compile + fit: Keras 3 ignores it
    before = model.get_layer("head_logits").get_weights()[0].copy()
    model.fit(x, y, epochs=1, verbose=0)
    moved = not np.array_equal(before, model.get_layer("head_logits").get_weights()[0])
    assert moved, "Keras 3 honours post-compile freezing now: revisit the compile guard"
    with pytest.raises(StaleCompileError, match="frozen since: .*head_logits"):
        check_compiled(model)
    with pytest.raises(StaleCompileError, match="Recompile"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[CompileGuard()])
    compile_model(model, keras.optimizers.SGD(0.1))
    check_compiled(model)


def test_guard_refuses_a_model_compiled_outside_ftcore():
    model = _tiny()
    model.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(StaleCompileError, match="not compiled with .*compile_model"):
        check_compiled(model)


def test_each_stage_recompiles_what_it_trains():
    model = _tiny()
    x, y = data_for(model, 8)
    fine_tune(model, x, y, [head_stage(1), unfreeze_stage("base", 1)], cache_features=False)
    check_compiled(model)
    compiled = {v.path for v in model.trainable_variables}
    assert compiled == {v.path for v in model.weights if v.trainable}
    assert any(v.path.startswith("b") for v in model.trainable_variables)


def test_discriminative_lrs_scale_each_layers_step():
    """One SGD step with multipliers m: each variable moves m times its plain-SGD step."""
    plain, scaled = _tiny(), _tiny()
    x, y = data_for(plain, 8)
    stage = unfreeze_stage(0, epochs=1, learning_rate=0.1)
    stage.apply(scaled)  # multipliers depend on what trains
    mults = discriminative_multipliers(scaled, 0.01)
    w0 = {v.path: v.numpy().copy() for v in plain.trainable_variables}
    fine_tune(plain, x, y, [stage], batch_size=8, shuffle=False)
    fine_tune(scaled, x, y, [replace(stage, discriminative=0.01)], batch_size=8, shuffle=False)
    ratios = set()
    for vp, vs in zip(plain.trainable_variables, scaled.trainable_variables, strict=True):
        step_plain, step_scaled = vp.numpy() - w0[vp.path], vs.numpy() - w0[vs.path]
        m = mults.get(vs.path, 1.0)
        np.testing.assert_allclose(step_scaled, m * step_plain, rtol=1e-4, atol=1e-7)
        ratios.add(round(m, 6))
    assert sorted(ratios) == [0.01, 0.1, 1.0]  # b0_dense, b1_dense (BN stays frozen), head


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


class _Interrupt(Exception):
    pass


class _StopAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise _Interrupt


@pytest.mark.slow
def test_resume_from_latest_checkpoint_matches_an_uninterrupted_run(tmp_path):
    """Stop in the middle of the (cached) head stage, then in the middle of stage 2; resuming
    gives the weights of a run never stopped (optimizer momentum included), and best.keras
    is a loadable full model."""
    spec = {"kind": "dense", "blocks": [(3, False, False), (3, True, False)], "head_bn": False}
    stages = [head_stage(3, 0.05, "momentum"), unfreeze_stage(0, 3, 0.05, "momentum")]
    x, y = data_for(build_net(spec), 16)

    def run(ckpt, **kw):
        model = build_net(spec)
        fine_tune(model, x, y, stages, batch_size=8, shuffle=False, checkpoint_dir=ckpt, **kw)
        return model

    def state():
        saved, _ = read_checkpoint(tmp_path / "b")
        return saved["stage"], saved["epoch"]

    reference = run(tmp_path / "a")
    with pytest.raises(_Interrupt):
        run(tmp_path / "b", callbacks=[_StopAt(0)])
    assert state() == (0, 1)
    with pytest.raises(_Interrupt):  # head epochs 1-2 resume; stops after stage 2's epoch 0
        run(tmp_path / "b", resume=True, callbacks=[_StopAt(0)])
    assert state() == (1, 1)
    resumed = run(tmp_path / "b", resume=True)
    for a, b in zip(reference.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    best = keras.models.load_model(tmp_path / "b" / "best.keras")
    assert best.output.shape == (None, 3)


def _events(directory):
    out = []
    for path in sorted(directory.rglob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.HasField("tensor"):
                    out.append((event.step, value.tag, tf.make_ndarray(value.tensor)))
    return out


@pytest.mark.slow
def test_tensorboard_logs_show_frozen_layers_not_moving(tmp_path):
    model = _tiny()
    x, y = data_for(model, 8)
    fine_tune(
        model,
        x,
        y,
        [head_stage(2), unfreeze_stage("b1_dense", 1)],
        log_dir=tmp_path,
        validation_data=(x, y),
        cache_features=False,
    )
    losses = [e for e in _events(tmp_path / "0_head") if e[1] == "epoch_loss"]
    assert len(losses) == 2 * 2  # train + validation, 2 epochs
    hist = _events(tmp_path / "weights")
    by_tag: dict[str, dict[int, np.ndarray]] = {}
    for step, tag, value in hist:
        by_tag.setdefault(tag, {})[step] = value
    frozen = by_tag["frozen/b0_dense/kernel"]
    assert sorted(frozen) == [0, 1, 2, 3]  # b0 is frozen in both stages
    assert all(np.array_equal(frozen[0], frozen[s]) for s in frozen)
    assert frozen[0][:, 2].sum() == model.get_layer("b0_dense").kernel.numpy().size
    head = by_tag["trainable/head_logits/kernel"]
    assert not np.array_equal(head[0], head[2])
    b1 = by_tag["frozen/b1_dense/kernel"], by_tag["trainable/b1_dense/kernel"]
    assert sorted(b1[0]) == [0, 1, 2] and sorted(b1[1]) == [3]
    assert not np.array_equal(b1[0][2], b1[1][3])  # moved once unfrozen
    assert trainable_flags(model)["b1_dense"]


def test_resume_into_another_model_is_refused(tmp_path):
    x, y = data_for(_tiny(), 8)
    fine_tune(_tiny(), x, y, [head_stage(1)], checkpoint_dir=tmp_path)
    other = build_net({"kind": "dense", "blocks": [(4, False, False)], "head_bn": False})
    with pytest.raises(MismatchError, match=r"latest\.npz does not fit model"):
        fine_tune(other, x, y, [head_stage(1)], checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(TypeError, match="resume=True needs checkpoint_dir"):
        fine_tune(other, x, y, [head_stage(1)], resume=True)


def test_unfreeze_from_past_the_end_is_an_error_not_a_stage_that_trains_nothing():
    """The seed's ``model.layers[80:]`` on a model cut to fewer layers selected nothing."""
    base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="b")])
    model = attach_head(base, [keras.layers.Dense(2, name="logits")])
    with pytest.raises(
        FtcoreError,
        match=r"unfreeze_from=80 is past the end .* layers\), so it would train nothing",
    ):
        unfreeze_stage(80).plan(model)
