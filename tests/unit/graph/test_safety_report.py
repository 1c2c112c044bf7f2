"""ftcore.graph.safety on hand-built GraphDefs: every unsafe node is found (top level and in
function libraries together), allow_ops reaches the file loader, and the refusal says which
nodes, what they do and how many more (cases mutation testing showed untested)."""

from __future__ import annotations

import pytest
from tensorflow.core.framework import graph_pb2

from ftcore.errors import InvalidFileError, UnsafeGraphError
from ftcore.graph.safety import check_graph, load_graph_def, parse_graph_def, unsafe_nodes


def _graph(ops: list[str], functions: dict[str, list[str]] | None = None) -> graph_pb2.GraphDef:
    g = graph_pb2.GraphDef()
    for i, op in enumerate(ops):
        g.node.add(name=f"n{i}", op=op)
    for fname, fops in (functions or {}).items():
        fn = g.library.function.add()
        fn.signature.name = fname
        for i, op in enumerate(fops):
            fn.node_def.add(name=f"m{i}", op=op)
    return g


def test_unsafe_nodes_at_top_level_and_in_functions_are_all_reported():
    g = _graph(["Placeholder", "WriteFile", "Relu"], {"f": ["Identity", "PyFunc"], "g": ["Add"]})
    assert unsafe_nodes(g) == [("n1", "WriteFile"), ("f/m1", "PyFunc")]
    assert unsafe_nodes(g, allow_ops=["WriteFile"]) == [("f/m1", "PyFunc")]
    assert unsafe_nodes(_graph(["WriteFile"], {"f": ["Identity"]})) == [("n0", "WriteFile")]


def test_the_refusal_names_nodes_what_they_do_and_how_many_more():
    with pytest.raises(UnsafeGraphError) as e:
        check_graph(_graph(["Const", "ReadFile", "MysteryOp"]), source="m.pb")
    assert str(e.value) == (
        "m.pb contains ops outside the safe inference set: node 'n1' (ReadFile: reads files), "
        "node 'n2' (MysteryOp: not a known-safe inference op); refusing to load it (pass "
        "trust=True / --trust if you trust its author, or allow_ops for specific ops)"
    )
    with pytest.raises(UnsafeGraphError, match=r"^graph contains .*'n7'.*; refusing") as e:
        check_graph(_graph(["SaveV2"] * 8))
    assert "'n8'" not in str(e.value) and "more" not in str(e.value)
    with pytest.raises(
        UnsafeGraphError, match=r"node 'n7' \(SaveV2: writes checkpoint files\) and 2 more;"
    ):
        check_graph(_graph(["SaveV2"] * 10))


def test_trust_and_allow_ops_admit_a_graph():
    g = _graph(["WriteFile"])
    assert check_graph(g, trust=True) is g
    assert check_graph(g, allow_ops={"WriteFile"}) is g


def test_load_graph_def_passes_allow_ops(tmp_path):
    path = tmp_path / "m.pb"
    path.write_bytes(_graph(["Placeholder", "CustomOp"]).SerializeToString())
    with pytest.raises(UnsafeGraphError, match=rf"^{path} contains .*CustomOp"):
        load_graph_def(path)
    assert [n.op for n in load_graph_def(path, allow_ops=["CustomOp"]).node] == [
        "Placeholder",
        "CustomOp",
    ]
    assert len(load_graph_def(path, trust=True).node) == 2


def test_parse_graph_def_errors_name_the_source():
    with pytest.raises(
        InvalidFileError,
        match=r"^data is not a binary GraphDef protobuf \(\.pb\): it has no nodes$",
    ):
        parse_graph_def(b"")
    with pytest.raises(
        InvalidFileError,
        match=r"^x\.pb is not a binary GraphDef protobuf \(\.pb\), or it is truncated: ",
    ):
        parse_graph_def(b"\xff\xff\xff", source="x.pb")
