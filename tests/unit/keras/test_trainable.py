"""Freeze/unfreeze selectors against independent references, round trips, the report."""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ftcore.errors import UnknownNameError
from ftcore.keras import head_stage, unfreeze_stage
from ftcore.keras.head import attach_head, head_start
from ftcore.keras.trainable import (
    freeze,
    freeze_report,
    leaves,
    select,
    set_trainable_flags,
    trainable_flags,
    unfreeze,
    unfreeze_from,
)
from tests.helpers.keras_nets import build_net, net_specs


def selectors(model):
    """A selector for ``model`` and the layer names it picks (computed independently)."""
    names = [layer.name for layer in model.layers]
    n = len(names)
    index = st.integers(-n, n - 1).map(lambda i: (i, {names[i]}))
    slices = st.tuples(st.integers(0, n), st.integers(0, n), st.sampled_from([None, 2, -1])).map(
        lambda t: (slice(*t), set(names[slice(*t)]))
    )
    stems = st.sampled_from(["conv", "dense", "bn", "drop", "head_", "^b0", "act$"])
    regex = stems.map(lambda r: (re.compile(r), {m for m in names if re.search(r, m)}))
    name = st.sampled_from(names).map(lambda m: (m, {m}))
    base = st.just(("base", {m for m in names if not m.startswith("head_")}))
    union = st.tuples(st.integers(0, n - 1), st.sampled_from(names)).map(
        lambda t: ([t[0], t[1]], {names[t[0]], t[1]})
    )
    return st.one_of(index, slices, regex, name, base, union)


def keras_trainable(model) -> set[str]:
    return {v.path for v in model.trainable_variables}


@given(spec=net_specs(), data=st.data())
def test_freeze_matches_reference_and_keras_agrees(spec, data):
    model = build_net(spec, seed=None)  # weights do not matter here
    selector, picked = data.draw(selectors(model))
    freeze(model, selector)
    flags = trainable_flags(model)
    assert {p for p, on in flags.items() if not on} == picked
    expected = {
        v.path
        for layer in model.layers
        if layer.name not in picked
        for v in layer.trainable_weights
    }
    assert keras_trainable(model) == expected


@given(spec=net_specs(), data=st.data())
def test_round_trips_and_idempotence(spec, data):
    model = build_net(spec, seed=None)
    selector, _ = data.draw(selectors(model))
    original, original_vars = trainable_flags(model), keras_trainable(model)
    freeze(model, selector)
    once = trainable_flags(model)
    freeze(model, selector)
    assert trainable_flags(model) == once
    unfreeze(model, selector)
    assert trainable_flags(model) == original and keras_trainable(model) == original_vars
    freeze(model, "head")
    snapshot = trainable_flags(model)
    freeze(model, selector)
    set_trainable_flags(model, snapshot)
    assert trainable_flags(model) == snapshot


@given(spec=net_specs(), k=st.integers(0, 40))
def test_unfreeze_from_k(spec, k):
    """Layers from k on train, the rest is frozen; pretrained BN layers follow train_bn."""
    model = build_net(spec)
    k %= len(model.layers)
    for train_bn in (False, True):
        unfreeze_from(model, k, train_bn=train_bn)
        expected = [
            train_bn if _pretrained_bn(model, layer) else i >= k
            for i, layer in enumerate(model.layers)
        ]
        assert [layer.trainable for layer in model.layers] == expected


def _pretrained_bn(model, layer):
    bn = isinstance(layer, keras.layers.BatchNormalization)
    return bn and model.layers.index(layer) < head_start(model)


def nested_model():
    keras.utils.set_random_seed(0)
    inner_in = keras.Input((8, 8, 3), name="inner_in")
    h = keras.layers.Conv2D(4, 3, name="c1")(inner_in)
    h = keras.layers.BatchNormalization(name="bn1")(h)
    h = keras.layers.Conv2D(4, 3, name="c2")(h)
    inner = keras.Model(inner_in, h, name="backbone")
    inp = keras.Input((8, 8, 3), name="img")
    base = keras.Model(inp, inner(keras.layers.Rescaling(0.5, name="scale")(inp)), name="outer")
    return attach_head(base, "gap", num_classes=2)


def test_unfreeze_inside_a_nested_backbone():
    model = nested_model()
    freeze(model, "base")
    assert keras_trainable(model) == {"head_logits/kernel", "head_logits/bias"}
    unfreeze_from(model, "backbone/bn1")  # the pretrained bn1 stays frozen (train_bn=False)
    assert trainable_flags(model)["backbone/c1"] is False
    assert not trainable_flags(model)["backbone/bn1"]
    assert keras_trainable(model) == {
        "c2/kernel",
        "c2/bias",
        "head_logits/kernel",
        "head_logits/bias",
    }
    unfreeze_from(model, "backbone/bn1", train_bn=True)
    assert keras_trainable(model) == {
        "bn1/gamma",
        "bn1/beta",
        "c2/kernel",
        "c2/bias",
        "head_logits/kernel",
        "head_logits/bias",
    }
    assert model.get_layer("backbone").trainable
    unfreeze_from(model, "head_pool", train_bn=True)
    assert {v.path.rsplit("/", 1)[-1] for v in model.trainable_variables} == {
        "gamma",
        "beta",
        "kernel",
        "bias",
    } and trainable_flags(model)["backbone/bn1"]


def test_selectors_by_nested_path_and_regex():
    model = nested_model()
    assert select(model, "backbone") == [
        "backbone/inner_in",
        "backbone/c1",
        "backbone/bn1",
        "backbone/c2",
    ]
    assert select(model, re.compile(r"backbone/c\d")) == ["backbone/c1", "backbone/c2"]
    assert select(model, slice("scale", "head_pool")) == select(model, [1, 2, "backbone"])
    assert select(model, slice("scale", None, 2)) == select(model, [1, "head_pool", "head_logits"])
    # a regex matching the nested model's own path selects all of its leaves
    assert select(model, re.compile(r"^backbone$")) == select(model, "backbone")
    assert select(model, "all") == [p for p, _ in leaves(model)]


def test_index_bounds_are_those_of_a_python_list():
    model = nested_model()
    n = len(model.layers)
    assert select(model, -n) == ["img"] and select(model, n - 1) == ["head_softmax"]
    for bad in (n, -n - 1):
        with pytest.raises(IndexError, match=rf"layer index {bad} out of range for {n} layers"):
            select(model, bad)


@pytest.mark.parametrize("flag", [True, False])
def test_a_bool_is_not_taken_for_an_index(flag):
    model = nested_model()
    before = trainable_flags(model)
    with pytest.raises(TypeError, match="cannot be a bool"):
        freeze(model, flag)
    assert trainable_flags(model) == before


def test_defaults_freeze_the_base_and_unfreeze_everything():
    model = nested_model()
    head = ["head_pool", "head_dropout", "head_logits", "head_softmax"]
    base = [p for p, _ in leaves(model) if p not in head]
    assert freeze(model) == base
    assert trainable_flags(model) == {p: p in head for p, _ in leaves(model)}
    assert unfreeze(model) == base + head
    assert trainable_flags(model) == dict.fromkeys(base + head, True)


def test_freeze_with_train_bn_keeps_batchnorm_trainable():
    model = nested_model()
    freeze(model, "all")
    assert not trainable_flags(model)["backbone/bn1"]
    frozen = freeze(model, "all", train_bn=True)  # makes the selected pretrained BN trainable
    assert "backbone/bn1" not in frozen and "backbone/c1" in frozen
    assert trainable_flags(model) == {p: p == "backbone/bn1" for p, _ in leaves(model)}
    assert keras_trainable(model) == {"bn1/gamma", "bn1/beta"}


def test_unfreeze_from_past_the_end_freezes_everything():
    model = nested_model()
    assert unfreeze_from(model, len(model.layers)) == []
    assert not any(trainable_flags(model).values()) and keras_trainable(model) == set()


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("bn_1", r"unknown layer 'bn_1' in outer_finetune; closest: 'bn1'"),
        ("head_logit", r"closest: 'head_logits'"),
        (slice("bacbone", None), r"unknown layer 'bacbone' in outer_finetune; closest: 'backbone'"),
    ],
)
def test_unknown_names_list_the_closest(selector, message):
    with pytest.raises(UnknownNameError, match=message):
        select(nested_model(), selector)


def test_report_table_and_next_stage_column():
    model = nested_model()
    freeze(model, "base")
    stage = unfreeze_stage("backbone/c2")
    report = stage.report(model)
    assert trainable_flags(model)["backbone/c2"] is False  # report does not change flags
    rows = {r.path: r for r in report.rows}
    assert rows["backbone/c2"].trains_next and not rows["backbone/c2"].trainable
    assert not rows["backbone/bn1"].trains_next
    assert rows["head_dropout"].head and rows["head_dropout"].params == 0
    assert report.total_params == model.count_params()
    assert report.trainable_params == sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    stage.apply(model)
    after = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    assert report.next_trainable_params == after
    text = str(report)
    line = next(x for x in text.splitlines() if "backbone/c2" in x).split()
    assert line[-2:] == ["frozen", "trains"] and line[3] == str(rows["backbone/c2"].params)
    line = next(x for x in text.splitlines() if "head_logits" in x).split()
    assert line[-2:] == ["trainable", "trains"]
    assert text.splitlines()[-1] == (
        f"total params {model.count_params()}, trainable now {report.trainable_params}, "
        f"next stage trains {after}"
    )
    assert str(freeze_report(model)).count("trainable") > 3


def test_report_table_columns_agree_with_keras():
    """Printed table vs the model: one line per layer with weights (plus head layers), the
    index column right-aligned, and a layer trainable in itself but inside a frozen model
    counted as frozen (Keras trains nothing of a model whose ``trainable`` is False)."""
    model = build_net({"kind": "dense", "blocks": [(3, True, True)] * 3, "head_bn": True})
    model.trainable = False
    model.get_layer("b2_dense").trainable = True
    report = freeze_report(model, next_trainable=["b2_dense", "head"])
    assert report.trainable_params == 0 == len(model.trainable_weights)
    lines = str(report).splitlines()
    assert lines[0].split() == [
        "#",
        "layer",
        "type",
        "params",
        "trainable",
        "state",
        "next",
        "stage",
    ]
    end = lines[0].index("#") + 1
    position = {p: i for i, (p, _) in enumerate(leaves(model))}
    layers = dict(leaves(model))
    reported = [p for p, layer in leaves(model) if layer.weights or p.startswith("head_")]
    assert [r.path for r in report.rows] == reported and len(lines) == len(reported) + 2
    for line, path in zip(lines[1:-1], reported, strict=True):
        layer = layers[path]
        nxt = path == "b2_dense" or path.startswith("head_")
        assert line[:end].strip() == str(position[path]) and line[end] == " "
        assert line.split() == [
            str(position[path]),
            path,
            type(layer).__name__,
            str(sum(int(np.prod(w.shape)) for w in layer.weights)),
            "0",
            "frozen",
            "trains" if nxt else "frozen",
        ]
    assert position["head_softmax"] >= 10  # two-digit indices: the alignment is tested


@pytest.mark.parametrize("train_bn", [False, True])
@pytest.mark.parametrize("start", ["backbone/c1", "backbone/c2", "head_pool"])
def test_freeze_unfreeze_from_and_stages_share_one_batchnorm_rule(train_bn, start):
    """The same train_bn gives the same flags through all three entry points."""
    model = nested_model()
    unfreeze_from(model, start, train_bn=train_bn)
    by_function = trainable_flags(model)
    assert by_function["backbone/bn1"] is train_bn  # pretrained BN: train_bn, wherever it is
    plan = set(unfreeze_stage(start, train_bn=train_bn).plan(model))
    assert by_function == {p: p in plan for p, _ in leaves(model)}
    unfreeze(model, "all")
    freeze(model, "base", train_bn=train_bn)
    by_freeze = trainable_flags(model)
    plan = set(head_stage(train_bn=train_bn).plan(model))
    assert by_freeze == {p: p in plan for p, _ in leaves(model)}
    assert by_freeze["backbone/bn1"] is train_bn and by_freeze["head_logits"]
