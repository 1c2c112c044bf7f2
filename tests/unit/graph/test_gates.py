"""The safe-op allow-list bites: every op of every family in ``DANGEROUS_OPS`` is outside it and
is refused, in the graph and inside a library function, on every entry point that loads a
``.pb`` (check_graph, load_graph_def, predict.load, the LiteRT conversion, the CLI), naming what
it does; the same graph passes with ``trust`` or ``allow_ops``."""

from __future__ import annotations

import pytest
import tensorflow as tf

from ftcore.app.cli import main
from ftcore.errors import UnsafeGraphError
from ftcore.export import litert as tflite
from ftcore.graph.safety import DANGEROUS_OPS, SAFE_OPS, check_graph, load_graph_def
from ftcore.predict import load

v1 = tf.compat.v1
#: One op per family (what it does): the entry-point tests run these.
FAMILIES = {what: op for op, what in reversed(DANGEROUS_OPS.items())}


def _graph(op: str, in_function: bool = False) -> tf.compat.v1.GraphDef:
    """input -> out (a valid image model), plus a node ``steal`` running ``op``."""
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [None, 4, 4, 3], name="input")
        tf.identity(tf.nn.relu(x), name="out")
    graph_def = g.as_graph_def()
    if in_function:
        fn = graph_def.library.function.add()
        fn.signature.name = "helper"
        fn.node_def.add(name="steal", op=op)
    else:
        graph_def.node.add(name="steal", op=op)
    return graph_def


@pytest.mark.parametrize("op", sorted(DANGEROUS_OPS))
def test_a_dangerous_op_is_outside_the_allow_list_and_refused(op):
    assert op not in SAFE_OPS
    for in_function in (False, True):
        graph_def = _graph(op, in_function)
        where = "helper/steal" if in_function else "steal"
        with pytest.raises(
            UnsafeGraphError, match=rf"node '{where}' \({op}: {DANGEROUS_OPS[op]}\)"
        ):
            check_graph(graph_def)
        assert check_graph(graph_def, trust=True) is graph_def
        assert check_graph(graph_def, allow_ops={op}) is graph_def
    assert check_graph(_graph("Relu")) is not None  # the graph without it passes


@pytest.mark.parametrize("what", sorted(FAMILIES))
def test_a_dangerous_pb_is_refused_on_every_entry_point(what, tmp_path, capsys, photos):
    op = FAMILIES[what]
    path = tmp_path / "model.pb"
    path.write_bytes(_graph(op).SerializeToString())
    message = rf"\({op}: {what}\)"
    with pytest.raises(UnsafeGraphError, match=message):
        load_graph_def(path)
    with pytest.raises(UnsafeGraphError, match=message):
        load(path, output="out")
    with pytest.raises(UnsafeGraphError, match=message):
        tflite.export_pb(path, tmp_path / "m.tflite", outputs=["out"])
    image = str(photos["chelsea_cat"])
    assert main(["predict", str(path), image, "--output", "out"]) == 1
    assert f"({op}: {what})" in capsys.readouterr().err
    args = ["freeze", str(path), "--format", "tflite", "--outputs", "out"]
    assert main([*args, "--output", str(tmp_path / "m.tflite")]) == 1
    assert f"({op}: {what})" in capsys.readouterr().err
    assert not (tmp_path / "m.tflite").exists()
    assert load_graph_def(path, trust=True).node[-1].op == op  # trusted: loaded as it is
