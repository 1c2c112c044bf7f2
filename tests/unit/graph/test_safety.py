"""Untrusted GraphDefs: crafted graphs with file/code ops are refused and named; .pb parsing."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from ftcore.errors import InvalidFileError, MissingFileError, UnsafeGraphError
from ftcore.graph.safety import check_graph, load_graph_def, unsafe_nodes

v1 = tf.compat.v1


def _graph(build) -> tf.compat.v1.GraphDef:
    """x -> x*2 -> out, plus whatever ``build(x)`` adds."""
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [None, 2], name="x")
        tf.identity(x * 2.0, name="out")
        build(x)
    return g.as_graph_def()


CRAFTED = {
    "ReadFile": lambda x: tf.io.read_file("/etc/passwd", name="steal"),
    "WriteFile": lambda x: tf.io.write_file("/tmp/owned", "x", name="steal"),
    "MatchingFiles": lambda x: tf.io.matching_files("/home/*", name="steal"),
    "SaveV2": lambda x: tf.raw_ops.SaveV2(
        prefix="/tmp/ckpt", tensor_names=["x"], shape_and_slices=[""], tensors=[x], name="steal"
    ),
    "RestoreV2": lambda x: tf.raw_ops.RestoreV2(
        prefix="/tmp/ckpt",
        tensor_names=["x"],
        shape_and_slices=[""],
        dtypes=[tf.float32],
        name="steal",
    ),
    "PyFunc": lambda x: tf.numpy_function(np.sin, [x], tf.float32, name="steal"),
}


@pytest.mark.parametrize("op", sorted(CRAFTED))
def test_crafted_graph_is_refused_naming_the_node(op):
    graph_def = _graph(CRAFTED[op])
    with pytest.raises(UnsafeGraphError, match=rf"node 'steal[^']*' \({op}: "):
        check_graph(graph_def)
    assert check_graph(graph_def, trust=True) is graph_def
    assert check_graph(graph_def, allow_ops=[n.op for n in graph_def.node]) is graph_def


def test_ops_hidden_in_a_library_function_are_found():
    @tf.function
    def leak(x):
        return x + tf.strings.to_number(tf.io.read_file("/etc/hostname"))

    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [], name="x")
        tf.identity(leak(x), name="out")
    graph_def = g.as_graph_def()
    assert "ReadFile" not in {n.op for n in graph_def.node}
    bad = dict((op, name) for name, op in unsafe_nodes(graph_def))
    assert bad["ReadFile"].startswith("__inference_leak")


def test_a_plain_inference_graph_passes():
    graph_def = _graph(lambda x: tf.nn.softmax(tf.nn.relu6(x)))
    assert unsafe_nodes(graph_def) == []


def test_load_graph_def_checks_existence_format_and_safety(tmp_path):
    with pytest.raises(MissingFileError, match="nope.pb"):
        load_graph_def(tmp_path / "nope.pb")
    cases = {
        "text.pb": (b"this is not a protobuf \xff\xfe", "is not a binary GraphDef"),
        "empty.pb": (b"", r"is empty \(0 bytes\), expected a frozen graph"),
    }
    for name, (data, message) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(InvalidFileError, match=rf"{name} {message}"):
            load_graph_def(tmp_path / name)
    unsafe = tmp_path / "unsafe.pb"
    unsafe.write_bytes(_graph(CRAFTED["WriteFile"]).SerializeToString())
    with pytest.raises(UnsafeGraphError, match="unsafe.pb.*'steal'"):
        load_graph_def(unsafe)
    assert len(load_graph_def(unsafe, trust=True).node) > 3
