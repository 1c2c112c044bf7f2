"""var_list selection: exact ancestor variables on random graphs, BN updates, optimizer state,
slim-style scope filters and their errors."""

from __future__ import annotations

import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

from ftcore.errors import MismatchError, UnknownNameError
from ftcore.graph.names import op_name
from ftcore.graph.var_selection import (
    ancestor_variables,
    filter_by_scopes,
    model_variables,
    optimizer_state_names,
)
from tests.helpers.graph_nets import KINDS, SCOPES, TARGET, build_random_graph, build_slim

v1 = tf.compat.v1

node = st.tuples(
    st.sampled_from(KINDS),
    st.integers(0, 50),
    st.integers(0, 50),
    st.integers(0, len(SCOPES) - 1),
)


def names(variables) -> set[str]:
    return {op_name(v.name) for v in variables}


@given(spec=st.lists(node, min_size=1, max_size=12), data=st.data())
def test_ancestor_variables_equal_the_constructed_ancestor_set(spec, data):
    rg = build_random_graph(spec)
    targets = data.draw(st.lists(st.integers(1, len(spec)), min_size=1, max_size=2))
    expected = set().union(*(rg.reference_ancestors(t) for t in targets))
    got = ancestor_variables(rg.graph, [rg.tensors[t] for t in targets])
    assert names(got) == expected
    # by name too, and independent of which output of the target op is named
    assert names(ancestor_variables(rg.graph, [f"out{t}" for t in targets])) == expected
    # an op target (no control dependencies here) depends on what its output does
    assert names(ancestor_variables(rg.graph, [rg.tensors[t].op for t in targets])) == expected


def test_train_mode_batch_norm_statistics_are_included_only_when_asked():
    rg = build_random_graph([("conv", 0, 0, 0), ("bn_train", 1, 0, 1)])
    with_stats = names(ancestor_variables(rg.graph, rg.tensors[2]))
    without = names(ancestor_variables(rg.graph, rg.tensors[2], include_moving_statistics=False))
    assert with_stats - without == {
        "s1/n2/BatchNorm/moving_mean",
        "s1/n2/BatchNorm/moving_variance",
    }


def test_update_ops_given_as_operations_or_reading_the_path_count_and_unrelated_ones_do_not():
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [None, 4, 4, 2], name="input")
        with v1.variable_scope("bn"):
            gamma, beta = v1.get_variable("gamma", [2]), v1.get_variable("beta", [2])
            mean = v1.get_variable("moving_mean", [2], trainable=False, use_resource=True)
            var = v1.get_variable("moving_variance", [2], trainable=False, use_resource=True)
        y, bm, bv = v1.nn.fused_batch_norm(x, gamma, beta, is_training=True)
        rate = 1.0 / tf.cast(tf.shape(x)[0], tf.float32)  # reads the input, on the path
        counter = v1.get_variable("counter", [], use_resource=True)
        updates = [  # unrelated entries first: they must not end the search
            tf.no_op(name="nothing_to_update"),
            counter.assign_add(1.0, read_value=False),  # writes a variable, not from the BN
            mean.assign_sub((mean - bm) * rate, read_value=False),  # an Operation
            var.assign_sub((var - bv) * 0.1),  # an _UnreadVariable
        ]
        for update in updates:
            v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, update)
    assert isinstance(updates[2], tf.Operation)
    assert names(ancestor_variables(g, y)) == {
        "bn/gamma",
        "bn/beta",
        "bn/moving_mean",
        "bn/moving_variance",
    }
    assert names(ancestor_variables(g, y, include_moving_statistics=False)) == {
        "bn/gamma",
        "bn/beta",
    }


def test_model_variables_are_the_global_variables_but_optimizer_state():
    g = tf.Graph()
    with g.as_default():
        w = v1.get_variable("net/w", [3])
        v1.get_variable("net/BatchNorm/moving_mean", [3], trainable=False)
        step = v1.train.get_or_create_global_step()
        v1.train.AdamOptimizer(0.1).minimize(tf.reduce_sum(w * w), global_step=step)
    # w, mean, the step, two Adam slots and beta1/beta2_power
    assert len(g.get_collection(v1.GraphKeys.GLOBAL_VARIABLES)) == 7
    assert [op_name(v.name) for v in model_variables(g)] == ["net/w", "net/BatchNorm/moving_mean"]


def test_slim_cut_selects_exactly_the_blocks_up_to_the_target():
    g = tf.Graph()
    with g.as_default():
        build_slim()
    chosen = names(ancestor_variables(g, TARGET))
    everything = names(g.get_collection(v1.GraphKeys.GLOBAL_VARIABLES))
    blocks = {n for n in everything if n.split("/")[1] in {"Conv", "expanded_conv"}}
    blocks |= {
        n
        for n in everything
        if n.split("/")[1].startswith("expanded_conv_")
        and int(n.split("/")[1].rsplit("_", 1)[1]) <= 14
    }
    assert chosen == blocks
    assert "MobilenetV2/expanded_conv_14/project/BatchNorm/moving_variance" in chosen
    assert not any("Logits" in n or "Conv_1" in n or "expanded_conv_15" in n for n in chosen)


def test_optimizer_slots_and_global_step_are_never_selected():
    g = tf.Graph()
    with g.as_default():
        w = v1.get_variable("net/w", [3])
        step = v1.train.get_or_create_global_step()
        loss = tf.reduce_sum(w * w)
        train = v1.train.AdamOptimizer(0.1).minimize(loss, var_list=[w], global_step=step)
        mom = v1.train.MomentumOptimizer(0.1, 0.9).minimize(loss, var_list=[w])
    state = optimizer_state_names(g)
    assert {"global_step", "net/w/Adam", "net/w/Adam_1", "beta1_power", "net/w/Momentum"} <= state
    assert "net/w" not in state
    # the training op reads slots and the step: only the model variable is selected
    assert names(ancestor_variables(g, [train, mom])) == {"net/w"}


def test_a_training_op_with_a_global_step_stands_for_what_it_trains():
    """``minimize(..., global_step=step)`` returns the step increment, which runs after the
    update group (a control dependency): it selects what the group trains, by op or name."""
    g = tf.Graph()
    with g.as_default():
        w, other = v1.get_variable("net/w", [3]), v1.get_variable("other/w", [3])
        step = v1.train.get_or_create_global_step()
        opt = v1.train.GradientDescentOptimizer(0.1)
        train = opt.minimize(tf.reduce_sum(w * w), var_list=[w], global_step=step)
        opt.minimize(tf.reduce_sum(other * other), var_list=[other])
    assert names(ancestor_variables(g, train)) == {"net/w"}
    assert names(ancestor_variables(g, train.name)) == {"net/w"}


def test_an_op_target_walks_every_branch_past_an_input_read_twice():
    g = tf.Graph()
    with g.as_default():
        a, b = v1.get_variable("a/w", [2]), v1.get_variable("b/w", [2])
        rb = tf.identity(b)  # one read used twice: the walk meets its op twice
        total = tf.add(a * 2.0, rb + rb, name="total")
    assert names(ancestor_variables(g, total.op)) == {"a/w", "b/w"}


def test_optimizer_state_is_recognised_wherever_it_lives_and_lookalikes_are_model_variables():
    g = tf.Graph()
    with g.as_default():
        w = v1.get_variable("net/w", [3])
        lookalikes = [v1.get_variable("net/log_power", [3]), v1.get_variable("net/beta1", [3])]
        step = v1.get_variable(  # a step counter under another name, found by its collection
            "steps",
            [],
            tf.int64,
            trainable=False,
            collections=[v1.GraphKeys.GLOBAL_VARIABLES, v1.GraphKeys.GLOBAL_STEP],
        )
        loss = tf.reduce_sum(w * lookalikes[0] * lookalikes[1])
        with v1.variable_scope("train/opt"):
            scoped = v1.train.AdamOptimizer(0.1).minimize(loss, var_list=[w], global_step=step)
        first = v1.train.AdamOptimizer(0.1).minimize(loss, var_list=lookalikes[:1])
        second = v1.train.AdamOptimizer(0.1).minimize(loss, var_list=lookalikes[1:])
    slots = {f"{v}/Adam{k}" for v in ("net/log_power", "net/beta1") for k in ("", "_1")}
    assert optimizer_state_names(g) == slots | {
        "steps",
        "train/opt/net/w/Adam",
        "train/opt/net/w/Adam_1",
        "train/opt/beta1_power",
        "train/opt/beta2_power",
        "beta1_power",
        "beta2_power",
        "beta1_power_1",  # the second unscoped Adam's
        "beta2_power_1",
    }
    model = {"net/w", "net/log_power", "net/beta1"}
    assert names(ancestor_variables(g, [scoped, first, second])) == model
    assert names(ancestor_variables(g, [scoped.name, first.name, second.name])) == model


def test_a_hand_made_global_step_is_optimizer_state_by_its_name():
    g = tf.Graph()
    with g.as_default():
        w = v1.get_variable("w", [2])
        step = v1.get_variable("global_step", [], tf.int64, trainable=False)  # no collection
        v1.train.GradientDescentOptimizer(0.1).minimize(tf.reduce_sum(w * w), global_step=step)
    assert g.get_collection(v1.GraphKeys.GLOBAL_STEP) == []
    assert optimizer_state_names(g) == {"global_step"}
    assert [op_name(v.name) for v in model_variables(g)] == ["w"]


def test_a_variable_is_its_own_ancestor():
    g = tf.Graph()
    with g.as_default():
        v1.get_variable("a/w", [2])
        v1.get_variable("b/w", [2])
    assert names(ancestor_variables(g, "a/w")) == {"a/w"}


def test_a_graph_imported_without_its_collections_is_an_error_not_an_empty_var_list():
    g = tf.Graph()
    with g.as_default():
        w = v1.get_variable("a/w", [2, 2])
        tf.identity(tf.ones([1, 2]) @ w, name="y")
    imported = tf.Graph()
    with imported.as_default():
        tf.graph_util.import_graph_def(g.as_graph_def(), name="")
    with pytest.raises(MismatchError) as err:
        ancestor_variables(imported, "y")
    assert str(err.value) == (
        "variable ops ['a/w'] have no Variable object in the GLOBAL_VARIABLES collection "
        "(graph imported without its collections?); cannot build a var_list"
    )


def test_unknown_target_lists_close_matches():
    g = tf.Graph()
    with g.as_default():
        build_slim()
    with pytest.raises(UnknownNameError) as err:
        ancestor_variables(g, "MobilenetV2/expanded_conv_14/ouput")
    assert "'MobilenetV2/expanded_conv_14/ouput:0'" in str(err.value)
    assert "closest: 'MobilenetV2/expanded_conv_14/output:0'" in str(err.value)


VARS = ["net/a/w", "net/a/b", "net/ab/w", "net/b/w", "head/w", "head/b"]


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        (None, None, VARS),
        ("net/a", None, ["net/a/w", "net/a/b"]),  # boundary: not net/ab
        ("net", "net/a, net/b/", ["net/ab/w"]),  # slim comma list, trailing slash
        (["head", "net/b"], None, ["net/b/w", "head/w", "head/b"]),
        (None, "net", ["head/w", "head/b"]),
        ("head/w", None, ["head/w"]),  # a variable name is its own scope
        (None, "net/a,, /,", ["net/ab/w", "net/b/w", "head/w", "head/b"]),  # empty items ignored
    ],
)
def test_filter_by_scopes_follows_slim_flags_with_scope_boundaries(include, exclude, expected):
    assert filter_by_scopes(VARS, include=include, exclude=exclude) == expected


def test_filter_by_scopes_keeps_variable_objects_and_reads_a_generator_once():
    g = tf.Graph()
    with g.as_default():
        a, b = v1.get_variable("x/a", [1]), v1.get_variable("y/b", [1])
    assert filter_by_scopes([a, b], exclude="x") == [b]
    assert filter_by_scopes((v for v in (a, b)), include="x") == [a]


@pytest.mark.parametrize(
    ("scopes", "message"),
    [
        (
            "net/ab,haed",
            "unknown scope 'haed' in the variables; closest: 'head', 'head/w', 'head/b'",
        ),
        (  # close matches come from every depth, not only the top-level scopes
            "net/b/v",
            "unknown scope 'net/b/v' in the variables; closest: 'net/b/w', 'net/b', 'net/ab/w'",
        ),
    ],
)
def test_a_mistyped_scope_is_an_error_with_close_matches(scopes, message):
    for flag in ("include", "exclude"):
        with pytest.raises(UnknownNameError) as err:
            filter_by_scopes(VARS, **{flag: scopes})
        assert str(err.value) == message
