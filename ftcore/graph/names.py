"""Names in a TF1 graph: resolve a tensor or variable by name (with close matches on a typo)
and list what a graph holds.

Tensor names accept the op name (``"MobilenetV2/expanded_conv_14/output"``) or the
tensor name (``".../output:0"``). Variables are listed with their value shapes, BN moving
statistics included (they are global, not trainable, variables):

    >>> import tensorflow as tf
    >>> g = tf.Graph()
    >>> with g.as_default():
    ...     w = tf.compat.v1.get_variable("dense/w", [2, 3])
    ...     y = tf.identity(tf.ones([1, 2]) @ w, name="y")
    >>> resolve_tensor(g, "y").name, [v.name for v in list_variables(g)]
    ('y:0', ['dense/w'])
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from ftcore.errors import InvalidFileError, MismatchError, unknown_name

v1 = tf.compat.v1

#: Op types that create a variable: TF2 resource variables and legacy ref variables.
VARIABLE_OPS = frozenset({"VarHandleOp", "VariableV2", "Variable"})


@dataclass(frozen=True)
class VarInfo:
    """A variable's name (no ``:0``), shape and dtype name, from a graph or a checkpoint."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str


def import_graph(graph_def, prefix: str = "", source: str = "graph") -> tf.Graph:
    """A new ``tf.Graph`` holding ``graph_def`` (names under ``prefix/`` if given); a GraphDef
    TensorFlow cannot import raises :class:`~ftcore.errors.InvalidFileError` naming ``source``.

    >>> g = tf.Graph()
    >>> with g.as_default():
    ...     _ = tf.constant(1.0, name="c")
    >>> [op.name for op in import_graph(g.as_graph_def(), prefix="import").get_operations()]
    ['import/c']
    """
    graph = tf.Graph()
    try:
        with graph.as_default():
            tf.graph_util.import_graph_def(graph_def, name=prefix)
    except (ValueError, tf.errors.OpError) as e:
        raise InvalidFileError(f"{source} cannot be imported: {str(e).splitlines()[0]}") from None
    return graph


def op_name(name: str) -> str:
    """The node of a tensor name or GraphDef input: ``"scope/w:0"``, ``"^scope/w"`` (a control
    input) -> ``"scope/w"``.

    >>> op_name("a/b:0"), op_name("a/b"), op_name("^a/b")
    ('a/b', 'a/b', 'a/b')
    """
    name = name.lstrip("^")
    head, sep, tail = name.rpartition(":")
    return head if sep and tail.isdigit() else name


def resolve_tensor(graph: tf.Graph, name: str, where: str = "") -> tf.Tensor:
    """The tensor ``name`` (``"op"`` means ``"op:0"``); :class:`UnknownNameError` with close matches.

    >>> g = tf.Graph()
    >>> with g.as_default():
    ...     _ = tf.constant(1.0, name="features")
    >>> resolve_tensor(g, "featurs")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ftcore.errors.UnknownNameError: unknown tensor 'featurs:0'...; closest: 'features:0'
    """
    full = name if op_name(name) != name else f"{name}:0"
    try:
        return graph.get_tensor_by_name(full)
    except (KeyError, ValueError):
        raise unknown_name("tensor", full, list_tensors(graph), where=where) from None


def single_placeholder(graph: tf.Graph) -> tf.Tensor:
    """The graph's only placeholder (the input to feed); :class:`MismatchError` otherwise.

    >>> g = tf.Graph()
    >>> with g.as_default():
    ...     _ = tf.compat.v1.placeholder(tf.float32, [None, 2], name="input")
    >>> single_placeholder(g).name
    'input:0'
    """
    found = [op.outputs[0].name for op in graph.get_operations() if op.type == "Placeholder"]
    if len(found) != 1:
        raise MismatchError(f"the graph has placeholders {found}; name the input")
    return graph.get_tensor_by_name(found[0])


def list_nodes(graph: tf.Graph) -> list[str]:
    """All op (node) names, in graph order."""
    return [op.name for op in graph.get_operations()]


def list_tensors(graph: tf.Graph) -> list[str]:
    """All tensor names (``op:N``), in graph order."""
    return [t.name for op in graph.get_operations() for t in op.outputs]


def var_info(var: tf.Variable | VarInfo) -> VarInfo:
    """Name (without ``:0``), shape and dtype of a variable (a :class:`VarInfo` passes through)."""
    if isinstance(var, VarInfo):
        return var
    shape = tuple(var.shape.as_list()) if var.shape.rank is not None else ()
    return VarInfo(op_name(var.name), shape, var.dtype.base_dtype.name)


def list_variables(graph: tf.Graph, trainable_only: bool = False) -> list[VarInfo]:
    """Global variables (BN moving statistics included), or only the trainable ones, by name."""
    key = v1.GraphKeys.TRAINABLE_VARIABLES if trainable_only else v1.GraphKeys.GLOBAL_VARIABLES
    return sorted((var_info(v) for v in graph.get_collection(key)), key=lambda i: i.name)


def variables_by_name(graph: tf.Graph) -> dict[str, tf.Variable]:
    """The graph's global variables keyed by name without ``:0``."""
    return {op_name(v.name): v for v in graph.get_collection(v1.GraphKeys.GLOBAL_VARIABLES)}


def resolve_variable(graph: tf.Graph, name: str) -> tf.Variable:
    """The variable object named ``name`` (``"scope/w"`` or ``"scope/w:0"``).

    Raises :class:`UnknownNameError` listing close matches among the global variables.
    """
    variables = variables_by_name(graph)
    try:
        return variables[op_name(name)]
    except KeyError:
        raise unknown_name("variable", op_name(name), list(variables)) from None
