"""var_list selection: exact ancestor variables on random graphs, slim-style scope filters."""

from __future__ import annotations

import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

from ftcore.errors import UnknownNameError
from ftcore.graph.names import op_name
from ftcore.graph.var_selection import ancestor_variables, filter_by_scopes, optimizer_state_names
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


def test_train_mode_batch_norm_statistics_are_included_only_when_asked():
    rg = build_random_graph([("conv", 0, 0, 0), ("bn_train", 1, 0, 1)])
    with_stats = names(ancestor_variables(rg.graph, rg.tensors[2]))
    without = names(ancestor_variables(rg.graph, rg.tensors[2], include_moving_statistics=False))
    assert with_stats - without == {
        "s1/n2/BatchNorm/moving_mean",
        "s1/n2/BatchNorm/moving_variance",
    }


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
    ],
)
def test_filter_by_scopes_follows_slim_flags_with_scope_boundaries(include, exclude, expected):
    assert filter_by_scopes(VARS, include=include, exclude=exclude) == expected


def test_filter_by_scopes_keeps_variable_objects():
    g = tf.Graph()
    with g.as_default():
        a, b = v1.get_variable("x/a", [1]), v1.get_variable("y/b", [1])
    assert filter_by_scopes([a, b], exclude="x") == [b]


def test_a_mistyped_scope_is_an_error_with_close_matches():
    with pytest.raises(UnknownNameError) as err:
        filter_by_scopes(VARS, include="net/ab,haed")
    assert "unknown scope 'haed'" in str(err.value)
    assert "'head'" in str(err.value)
