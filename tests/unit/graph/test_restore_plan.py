"""Restore plans: the four lists partition the names; the report's text; strict/lenient restore;
renaming; skip/exclude; initialization orders; detection of "restore, then global init"; a
checkpoint damaged after planning."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

from ftcore.errors import InvalidFileError, MismatchError, MissingFileError, UnknownNameError
from ftcore.graph.names import VarInfo
from ftcore.graph.restore_plan import (
    checkpoint_name,
    plan_restore,
    restore,
    restore_and_initialize,
    verify_restored,
)
from tests.helpers.graph_nets import save_raw_checkpoint

v1 = tf.compat.v1

# one entry per base name: (in graph, in checkpoint, mismatch: none/shape/dtype, renamed)
entry = st.tuples(
    st.booleans(), st.booleans(), st.sampled_from(["none", "shape", "dtype"]), st.booleans()
)


@given(entries=st.lists(entry, min_size=1, max_size=10), shapes=st.data())
def test_the_four_lists_partition_graph_and_checkpoint_names(entries, shapes, tmp_path_factory):
    graph, ckpt, expected = (
        [],
        {"global_step": np.int64(3)},
        {"restore": [], "graph": [], "mismatch": []},
    )
    renamed_in = {"graph": False, "ckpt": False}
    for k, (in_graph, in_ckpt, mismatch, renamed) in enumerate(entries):
        base = f"block{k % 3}/v{k}"
        gname, cname = (f"student/{base}", f"teacher/{base}") if renamed else (base, base)
        shape = tuple(shapes.draw(st.lists(st.integers(1, 3), max_size=3), label=base))
        if in_graph:
            graph.append(VarInfo(gname, shape, "float32"))
            renamed_in["graph"] |= renamed
        if in_ckpt:
            cshape = shape + (2,) if mismatch == "shape" else shape
            dtype = np.float64 if mismatch == "dtype" else np.float32
            ckpt[cname] = np.zeros(cshape, dtype)
            renamed_in["ckpt"] |= renamed
        if in_graph and in_ckpt:
            expected["restore" if mismatch == "none" else "mismatch"].append((gname, cname))
        elif in_graph:
            expected["graph"].append(gname)
    use_map = renamed_in["graph"] and renamed_in["ckpt"]
    if not use_map:  # without the map, renamed names are simply different names
        expected = {"restore": [], "graph": [], "mismatch": []}
        for info in graph:
            if info.name not in ckpt:
                expected["graph"].append(info.name)
            elif ckpt[info.name].shape == info.shape and ckpt[info.name].dtype == np.float32:
                expected["restore"].append((info.name, info.name))
            else:
                expected["mismatch"].append((info.name, info.name))
    prefix = save_raw_checkpoint(tmp_path_factory.mktemp("plan") / "ckpt", ckpt)

    plan = plan_restore(graph, prefix, {"teacher/": "student/"} if use_map else None)

    assert sorted(plan.to_restore) == sorted(expected["restore"])
    assert sorted(plan.graph_only) == sorted(expected["graph"])
    assert sorted((m.graph_name, m.checkpoint_name) for m in plan.mismatched) == sorted(
        expected["mismatch"]
    )
    used = {c for _, c in expected["restore"] + expected["mismatch"]}
    assert sorted(plan.checkpoint_only) == sorted(set(ckpt) - used)
    # a partition: every graph name in exactly one list, every checkpoint key in exactly one
    graph_side = [g for g, _ in plan.to_restore] + list(plan.graph_only)
    graph_side += [m.graph_name for m in plan.mismatched]
    assert sorted(graph_side) == sorted(i.name for i in graph)
    ckpt_side = [c for _, c in plan.to_restore] + list(plan.checkpoint_only)
    ckpt_side += [m.checkpoint_name for m in plan.mismatched]
    assert sorted(ckpt_side) == sorted(ckpt)
    assert plan.complete == (not expected["graph"] and not expected["mismatch"])


def test_checkpoint_name_uses_the_longest_matching_scope():
    amap = {"teacher/": "student/", "teacher/head/": "student/new_head", "old_w": "w"}
    assert checkpoint_name("student/conv/w", amap) == "teacher/conv/w"
    assert checkpoint_name("student/new_head/b", amap) == "teacher/head/b"
    assert checkpoint_name("studentx/w", amap) == "studentx/w"  # scope boundary
    assert checkpoint_name("w", amap) == "old_w"  # a variable-to-variable entry


VALUES = {
    "base/w": np.arange(6, dtype=np.float32).reshape(2, 3),
    "base/b": np.array([1.5, -2.0, 3.25], np.float32),
    "head/w": np.ones((4, 2), np.float32),  # the graph's head/w is [3, 2]
    "old/x": np.zeros(1, np.float32),
}


@pytest.fixture
def setup(tmp_path):
    """A checkpoint and a graph: base/* restorable, head/w mismatched, new/v graph-only."""
    prefix = save_raw_checkpoint(tmp_path / "ckpt", VALUES)
    g = tf.Graph()
    with g.as_default():
        v1.set_random_seed(1)
        v1.get_variable("base/w", [2, 3])
        v1.get_variable("base/b", [3])
        v1.get_variable("head/w", [3, 2], initializer=v1.constant_initializer(7.0))
        v1.get_variable("new/v", [2], initializer=v1.constant_initializer(-1.0))
    return g, prefix


def values(sess, g) -> dict[str, np.ndarray]:
    variables = g.get_collection(v1.GraphKeys.GLOBAL_VARIABLES)
    return dict(zip([v.op.name for v in variables], sess.run(variables), strict=True))


def test_strict_restore_raises_with_the_report(setup):
    g, prefix = setup
    plan = plan_restore(g.get_collection("variables"), prefix)
    with v1.Session(graph=g) as sess, pytest.raises(MismatchError) as err:
        restore_and_initialize(sess, plan)
    msg = str(err.value)
    assert "2 to restore, 1 graph-only, 1 checkpoint-only, 1 shape/dtype mismatches" in msg
    assert "head/w: graph [3, 2] float32, checkpoint [4, 2] float32" in msg
    assert "missing from the checkpoint:\n    new/v" in msg
    assert "not used by the graph:\n    old/x" in msg


def test_lenient_restore_restores_the_matching_part_and_initializes_the_rest(setup):
    g, prefix = setup
    plan = plan_restore(g.get_collection("variables"), prefix)
    with v1.Session(graph=g) as sess:
        restore_and_initialize(sess, plan, strict=False)
        got = values(sess, g)
    assert np.array_equal(got["base/w"], VALUES["base/w"])
    assert np.array_equal(got["base/b"], VALUES["base/b"])
    assert np.all(got["head/w"] == 7.0) and np.all(got["new/v"] == -1.0)


def test_assignment_map_renames_and_one_key_may_feed_two_variables(tmp_path):
    prefix = save_raw_checkpoint(tmp_path / "ckpt", VALUES)
    g = tf.Graph()
    with g.as_default():
        student = v1.get_variable("student/w", [2, 3])
        copy = v1.get_variable("base/w", [2, 3])
    plan = plan_restore([student, copy], prefix, {"base/": "student/"})
    assert sorted(plan.to_restore) == [("base/w", "base/w"), ("student/w", "base/w")]
    with v1.Session(graph=g) as sess:
        restore(sess, plan)
        assert np.array_equal(sess.run(student), VALUES["base/w"])
        assert np.array_equal(sess.run(copy), VALUES["base/w"])


def test_assignment_map_scopes_must_exist(setup):
    g, prefix = setup
    with pytest.raises(UnknownNameError) as err:
        plan_restore(g.get_collection("variables"), prefix, {"bsae/": "base/"})
    assert str(err.value) == (
        f"unknown checkpoint scope 'bsae' in {prefix}; closest: 'base', 'base/w', 'base/b'"
    )
    with pytest.raises(UnknownNameError, match="unknown graph scope 'nwe'"):
        plan_restore(g.get_collection("variables"), prefix, {"base/": "nwe/"})


def _session_state(g, prefix, order: str) -> dict[str, np.ndarray]:
    """Set up a fresh session with one of the seed recipe's orders; return every variable's value."""
    variables = [v for v in g.get_collection("variables") if v.op.name.startswith("base/")]
    plan = plan_restore(variables, prefix)
    restored = {name for name, _ in plan.to_restore}
    rest = [v for v in g.get_collection("variables") if v.op.name not in restored]
    with v1.Session(graph=g) as sess, g.as_default():
        if order == "global init, then restore":
            sess.run(v1.global_variables_initializer())
            restore(sess, plan)
        elif order == "restore, then init the new variables":
            restore(sess, plan)
            sess.run(v1.variables_initializer(rest))
        elif order == "restore_and_initialize":
            restore_and_initialize(sess, plan)
        else:  # the wrong order
            restore(sess, plan)
            sess.run(v1.global_variables_initializer())
        try:
            verify_restored(sess, plan)
        except MismatchError as e:
            return {"error": str(e)}
        return values(sess, g)


def test_correct_orders_give_identical_state_and_the_wrong_order_is_detected(setup):
    g, prefix = setup
    orders = [
        "global init, then restore",
        "restore, then init the new variables",
        "restore_and_initialize",
    ]
    states = [_session_state(g, prefix, o) for o in orders]
    for state in states[1:]:
        assert state.keys() == states[0].keys()
        for name in state:
            assert state[name].tobytes() == states[0][name].tobytes(), name
    assert np.array_equal(states[0]["base/w"], VALUES["base/w"])
    wrong = _session_state(g, prefix, "restore, then global init")
    assert "2 of 2 restored variables no longer equal checkpoint" in wrong["error"]
    assert "global_variables_initializer" in wrong["error"]


# --- what the report says, and what restore does with a plan it cannot carry out -------------


def test_the_report_names_every_list_and_the_checkpoint_side_of_a_renamed_mismatch(tmp_path):
    prefix = save_raw_checkpoint(
        tmp_path / "ckpt",
        {
            "teacher/conv/w": np.zeros((3, 3), np.float32),
            "teacher/conv/b": np.zeros(3, np.float32),
            "old/x": np.zeros(1, np.float32),
        },
    )
    graph = [
        VarInfo("student/conv/w", (3, 3), "float32"),
        VarInfo("student/conv/b", (4,), "float32"),
        VarInfo("new/v", (2,), "float32"),
    ]
    plan = plan_restore(graph, prefix, {"teacher/": "student/"})
    assert plan.report().splitlines() == [
        f"restore plan for {prefix}: 1 to restore, 1 graph-only, 1 checkpoint-only, "
        "1 shape/dtype mismatches",
        "  in the graph, missing from the checkpoint:",
        "    new/v",
        "  shape/dtype mismatches:",
        "    student/conv/b (<- teacher/conv/b): graph [4] float32, checkpoint [3] float32",
        "  in the checkpoint, not used by the graph:",
        "    old/x",
    ]


def test_the_report_of_a_plan_with_nothing_to_flag_is_its_headline(tmp_path):
    prefix = save_raw_checkpoint(tmp_path / "ckpt", {"w": np.zeros(2, np.float32)})
    plan = plan_restore([VarInfo("w", (2,), "float32")], prefix)
    assert plan.report() == (
        f"restore plan for {prefix}: 1 to restore, 0 graph-only, 0 checkpoint-only, "
        "0 shape/dtype mismatches"
    )


@pytest.mark.parametrize(("limit", "shown", "more"), [(None, 10, 2), (11, 11, 1), (12, 12, 0)])
def test_the_report_lists_up_to_limit_names_per_list_and_counts_the_rest(
    tmp_path, limit, shown, more
):
    keys = [f"unused/v{k:02d}" for k in range(12)]  # the plan asks for none of them
    prefix = save_raw_checkpoint(tmp_path / "ckpt", {k: np.zeros(1, np.float32) for k in keys})
    plan = plan_restore([], prefix)
    lines = (plan.report() if limit is None else plan.report(limit=limit)).splitlines()
    expected = ["  in the checkpoint, not used by the graph:"] + [f"    {k}" for k in keys[:shown]]
    assert lines[1:] == expected + ([f"    ... and {more} more"] if more else [])


@pytest.mark.parametrize("restore_fn", [restore, restore_and_initialize])
def test_strict_is_the_default_and_an_incomplete_plan_touches_nothing(setup, restore_fn):
    g, prefix = setup
    plan = plan_restore(g.get_collection("variables"), prefix)
    with v1.Session(graph=g) as sess:
        with pytest.raises(MismatchError) as err:
            restore_fn(sess, plan)
        assert str(err.value) == "cannot restore strictly:\n" + plan.report()
        with g.as_default():
            uninitialized = sess.run(v1.report_uninitialized_variables())
    assert sorted(n.decode() for n in uninitialized) == ["base/b", "base/w", "head/w", "new/v"]


def test_a_plan_without_variable_objects_cannot_be_restored(setup):
    g, prefix = setup
    infos = [VarInfo("base/w", (2, 3), "float32"), VarInfo("base/b", (3,), "float32")]
    plan = plan_restore(infos, prefix)
    assert plan.complete
    with v1.Session(graph=g) as sess, pytest.raises(MismatchError) as err:
        restore(sess, plan)
    assert str(err.value) == (
        "plan has no variable objects for ['base/b', 'base/w'] (planned from VarInfo?)"
    )


def test_skip_leaves_variables_that_already_hold_values_alone(setup):
    g, prefix = setup
    plan = plan_restore(g.get_collection("variables"), prefix)
    new_v = next(v for v in g.get_collection("variables") if v.op.name == "new/v")
    with v1.Session(graph=g) as sess, g.as_default():
        sess.run(new_v.initializer)
        sess.run(new_v.assign([5.0, 6.0]))  # e.g. trained earlier
        restore_and_initialize(sess, plan, strict=False, skip=["new/v"])
        got = values(sess, g)
    assert got["new/v"].tolist() == [5.0, 6.0]
    assert np.all(got["head/w"] == 7.0)  # neither restored nor skipped: initialized
    assert np.array_equal(got["base/w"], VALUES["base/w"])


def test_verify_restored_skips_the_excluded_variables_and_names_the_changed_ones(setup):
    g, prefix = setup
    variables = [v for v in g.get_collection("variables") if v.op.name.startswith("base/")]
    plan = plan_restore(variables, prefix)
    with v1.Session(graph=g) as sess, g.as_default():
        restore_and_initialize(sess, plan)
        sess.run(variables[0].assign(np.full((2, 3), 9.0, np.float32)))  # base/w, "trained"
        verify_restored(sess, plan, exclude=lambda name: name == "base/w")
        with pytest.raises(MismatchError) as err:
            verify_restored(sess, plan, exclude=lambda name: name == "base/b")
    assert str(err.value) == (
        f"1 of 1 restored variables no longer equal checkpoint {prefix} (e.g. ['base/w']): "
        "were they re-initialized after the restore, e.g. by global_variables_initializer()? "
        "Use restore_and_initialize()."
    )


def test_a_checkpoint_damaged_after_planning_is_an_invalid_file_naming_it(tmp_path):
    big = {"a/w": np.arange(600, dtype=np.float32), "b/w": np.ones(3, np.float32)}
    prefix = save_raw_checkpoint(tmp_path / "ckpt", big)
    g = tf.Graph()
    with g.as_default():
        variables = [v1.get_variable("a/w", [600]), v1.get_variable("b/w", [3])]
    plan = plan_restore(variables, prefix)
    (data,) = tmp_path.glob("ckpt.data-*")
    with v1.Session(graph=g) as sess:
        restore_and_initialize(sess, plan)
        os.truncate(data, 100)
        for step in (verify_restored, restore):
            with pytest.raises(InvalidFileError) as err:
                step(sess, plan)
            assert str(err.value).startswith(f"checkpoint data {prefix}.data-* is truncated")
        data.unlink()
        for step in (verify_restored, restore):
            with pytest.raises(MissingFileError, match="has an index but no data file"):
                step(sess, plan)
        (tmp_path / "ckpt.index").unlink()
        for step in (verify_restored, restore):
            with pytest.raises(MissingFileError, match=r"ckpt.index does not exist"):
                step(sess, plan)
