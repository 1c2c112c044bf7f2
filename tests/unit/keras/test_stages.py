"""Stages without training: what each trains (BatchNormalization included), the optimizer and
learning rate it builds, and the seed recipe's defaults. Training itself: ``test_finetune.py``."""

from __future__ import annotations

import keras
import pytest

from ftcore.errors import FtcoreError, UnknownNameError
from ftcore.keras import Stage, head_stage, unfreeze_stage
from ftcore.keras.internals import trainable_capable_variables
from ftcore.keras.optimizers import LayerwiseAdam, LayerwiseSGD
from ftcore.keras.trainable import freeze, leaves, trainable_flags, unfreeze
from tests.helpers.keras_nets import build_net

# BN in the base (b0_bn) and in the head (head_bn)
SPEC = {"kind": "dense", "blocks": [(3, True, False), (3, False, True)], "head_bn": True}
ALL = ["x", "b0_dense", "b0_bn", "b0_act", "b1_dense", "b1_drop"]
HEAD = ["head_hidden", "head_bn", "head_act", "head_logits", "head_softmax"]
ALL += HEAD
FROM_B1 = ALL[ALL.index("b1_dense") :]


def without(paths, *drop):
    return [p for p in paths if p not in drop]


@pytest.fixture(scope="module")
def model():
    net = build_net(SPEC)
    assert [p for p, _ in leaves(net)] == ALL
    return net


@pytest.mark.parametrize(
    ("stage", "trains"),
    [
        # one BatchNormalization rule: the pretrained b0_bn follows train_bn (default False),
        # the head's head_bn follows the selection
        (Stage("s"), HEAD),  # train="head"
        (head_stage(), HEAD),
        (head_stage(train_bn=True), ["b0_bn", *HEAD]),
        (head_stage(train_bn=False), HEAD),
        (Stage("s", train="all"), without(ALL, "b0_bn")),  # fine-tuning: pretrained BN frozen
        (Stage("s", train="all", train_bn=True), ALL),  # from scratch: every BN trains
        (Stage("s", train=None), []),
        (Stage("s", train=None, train_bn=True), ["b0_bn"]),
        (Stage("s", train=["b0_dense", "head_logits"]), ["b0_dense", "head_logits"]),
        (Stage("s", train=["b0_bn", "head_bn"]), ["head_bn"]),
        (unfreeze_stage("b1_dense"), FROM_B1),
        (unfreeze_stage(ALL.index("b1_dense")), FROM_B1),
        (unfreeze_stage("b1_dense", train_bn=True), ["b0_bn", *FROM_B1]),
        (unfreeze_stage(0), without(ALL, "b0_bn")),
        (unfreeze_stage(0, train_bn=False), without(ALL, "b0_bn")),
    ],
)
@pytest.mark.parametrize("start", ["all trainable", "all frozen"])
def test_plan_and_apply_train_exactly_the_stage_layers(model, stage, trains, start):
    (unfreeze if start == "all trainable" else freeze)(model, "all")
    before = trainable_flags(model)
    assert stage.plan(model) == trains
    assert trainable_flags(model) == before  # planning changes nothing
    assert stage.report(model).next_trainable_params == sum(
        int(v.numpy().size)
        for p, layer in leaves(model)
        if p in trains
        for v in trainable_capable_variables(layer)
    )
    assert stage.apply(model) == trains
    assert trainable_flags(model) == {p: p in trains for p in ALL}
    assert {v.path for v in model.trainable_variables} == {
        v.path
        for p, layer in leaves(model)
        if p in trains
        for v in trainable_capable_variables(layer)
    }


def test_unfreeze_from_past_the_end_names_the_model_and_the_count(model):
    with pytest.raises(FtcoreError, match=rf"model {model.name!r} \({len(ALL)} layers\)"):
        unfreeze_stage(len(ALL)).plan(model)


@pytest.mark.parametrize(
    ("name", "kind", "momentum"),
    [
        ("sgd", keras.optimizers.SGD, 0.0),
        ("momentum", keras.optimizers.SGD, 0.9),
        ("adam", keras.optimizers.Adam, None),
    ],
)
@pytest.mark.parametrize("discriminative", [None, {}, 0.1, {"b1_dense/kernel": 0.5}])
def test_make_optimizer(model, name, kind, momentum, discriminative):
    stage = unfreeze_stage(0, learning_rate=0.05, optimizer=name, discriminative=discriminative)
    stage.apply(model)
    opt = stage.make_optimizer(model)
    layerwise = {"adam": LayerwiseAdam}.get(name, LayerwiseSGD)
    if discriminative:
        assert type(opt) is layerwise
        lowest = min(opt.lr_multipliers.values())
        assert lowest == pytest.approx(discriminative if isinstance(discriminative, float) else 0.5)
        assert not any(p.startswith("head_") for p in opt.lr_multipliers)  # head: full rate
    else:  # a plain Keras optimizer, so the saved model loads without ftcore
        assert type(opt) is kind
    assert float(opt.learning_rate) == pytest.approx(0.05)
    if momentum is not None:
        assert opt.momentum == pytest.approx(momentum)


def test_an_unknown_optimizer_is_refused_when_the_stage_is_made():
    with pytest.raises(
        UnknownNameError, match=r"unknown optimizer 'adma' in stage 's'; closest: 'adam'"
    ):
        Stage("s", optimizer="adma")
    with pytest.raises(UnknownNameError, match=r"available: 'sgd', 'momentum', 'adam'"):
        unfreeze_stage(0, optimizer="lbfgs")


def test_seed_defaults_and_arguments_pass_through(model):
    head, unfrozen = head_stage(), unfreeze_stage("b1_dense")
    assert (head.name, head.epochs, unfrozen.name, unfrozen.epochs) == ("head", 5, "unfreeze", 5)
    for stage, lr in ((head, 0.01), (unfrozen, 1e-4)):
        opt = stage.make_optimizer(model)
        assert type(opt) is keras.optimizers.SGD and float(opt.learning_rate) == pytest.approx(lr)
    for make, arg in ((head_stage, {}), (unfreeze_stage, {"start": "b1_dense"})):
        stage = make(**arg, epochs=3, learning_rate=0.2, optimizer="adam", train_bn=True)
        assert stage.epochs == 3 and {"b0_bn", "head_logits"} <= set(stage.plan(model))
        opt = stage.make_optimizer(model)
        assert type(opt) is keras.optimizers.Adam and float(opt.learning_rate) == pytest.approx(0.2)


@pytest.mark.parametrize("value", [None, 0, "yes"])
def test_train_bn_is_true_or_false(value):
    with pytest.raises(TypeError, match=r"train_bn must be True or False, got"):
        Stage("s", train_bn=value)
