"""Inference optimization of frozen GraphDefs: strip training-only nodes, fold batch norm and pads.

Four passes, each a pure ``GraphDef -> GraphDef`` function, combined by :func:`optimize`:

1. :func:`strip_training_nodes` rewires around ``Identity``/``CheckNumerics``/``StopGradient``
   style pass-through nodes and prunes everything the outputs do not need (dropout branches,
   asserts, ``NoOp`` s, unused ``FusedBatchNorm`` side outputs).
2. :func:`fold_constants` evaluates (with NumPy) the elementwise subgraphs whose inputs are all
   constants. Keras 3's ``BatchNormalization`` freezes into such a subgraph
   (``Rsqrt(var + eps) * gamma`` and ``beta - mean * scale``), so afterwards it is a per-channel
   ``Mul`` by a constant followed by an ``AddV2`` of a constant; a Keras conv bias
   (``Squeeze(Reshape(bias))``) becomes a constant too.
3. :func:`fold_batch_norms` folds the chain of per-channel affine ops after a ``Conv2D`` /
   ``DepthwiseConv2dNative`` (bias, TF1's ``FusedBatchNorm``/``V2``/``V3`` with
   ``is_training=False``, ``Mul``/``Add``/``Sub`` by constants) into its weights and one
   ``BiasAdd``. ``Conv2D + BiasAdd + Relu6`` is then fused by TensorFlow's grappler remapper.
4. :func:`fold_pads` folds an explicit zero ``Pad`` (Keras' ``ZeroPadding2D``) into the
   following ``VALID`` convolution: ``padding="SAME"`` where that pads the same amounts,
   else ``EXPLICIT`` paddings (``Conv2D`` only).

    >>> from ftcore.graph.safety import load_graph_def
    >>> from ftcore_fixtures.build import ensure_built
    >>> frozen = load_graph_def(ensure_built().frozen_pb)  # the test models' slim MobileNetV2
    >>> gd = optimize(frozen, outputs=["MobilenetV2/Predictions/Reshape_1"])
    >>> count_ops(frozen)["FusedBatchNormV3"] > 0, count_ops(gd)["FusedBatchNormV3"]
    (True, 0)
"""

from __future__ import annotations

import collections
from collections.abc import Iterable

import numpy as np
from tensorflow.core.framework import graph_pb2, node_def_pb2
from tensorflow.python.framework import tensor_util

from ftcore.graph.names import op_name

#: Ops that pass their first input through unchanged at inference time.
PASS_THROUGH_OPS = frozenset(
    {"Identity", "CheckNumerics", "StopGradient", "PreventGradient", "Snapshot"}
)

#: Elementwise ops :func:`fold_constants` evaluates when all their inputs are constants.
_FOLDABLE = {
    "Identity": lambda a: a,
    "Rsqrt": lambda a: 1.0 / np.sqrt(a),
    "Sqrt": np.sqrt,
    "Reciprocal": lambda a: 1.0 / a,
    "Neg": np.negative,
    "Mul": np.multiply,
    "Sub": np.subtract,
    "Add": np.add,
    "AddV2": np.add,
    "RealDiv": np.divide,
    "Reshape": lambda a, shape: np.reshape(a, shape),
    "ExpandDims": lambda a, axis: np.expand_dims(a, int(axis)),
}

#: Ops :func:`fold_constants` evaluates with their attributes: ``f(node, *inputs)``.
_FOLDABLE_WITH_ATTRS = {
    "Squeeze": lambda node, a: np.squeeze(a, axis=tuple(node.attr["squeeze_dims"].list.i) or None),
}

_CONV_OPS = frozenset({"Conv2D", "DepthwiseConv2dNative"})
_FUSED_BN_OPS = frozenset({"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"})
#: Binary ops that are per-channel affine maps when one operand is a per-channel constant.
_AFFINE_OPS = frozenset({"BiasAdd", "Add", "AddV2", "Sub", "Mul"})


def output_index(tensor: str) -> int:
    """``"a/b:1"`` -> 1, ``"a/b"`` -> 0.

    >>> output_index("bn:2"), output_index("conv")
    (2, 0)
    """
    name = tensor.lstrip("^")
    return int(name.rsplit(":", 1)[1]) if ":" in name else 0


def count_ops(graph_def: graph_pb2.GraphDef) -> collections.Counter:
    """Count the nodes of each op type."""
    return collections.Counter(n.op for n in graph_def.node)


def _copy(graph_def: graph_pb2.GraphDef) -> graph_pb2.GraphDef:
    out = graph_pb2.GraphDef()
    out.CopyFrom(graph_def)
    return out


def _consumers(graph_def: graph_pb2.GraphDef) -> dict[str, list[tuple[node_def_pb2.NodeDef, str]]]:
    """node name -> [(consumer node, input string)] over data and control inputs."""
    users: dict[str, list] = collections.defaultdict(list)
    for n in graph_def.node:
        for inp in n.input:
            users[op_name(inp)].append((n, inp))
    return users


def _const_value(node: node_def_pb2.NodeDef) -> np.ndarray:
    return tensor_util.MakeNdarray(node.attr["value"].tensor)


def _const_node(name: str, value: np.ndarray, like_dtype=None) -> node_def_pb2.NodeDef:
    node = node_def_pb2.NodeDef(name=name, op="Const")
    tensor = tensor_util.make_tensor_proto(value, dtype=like_dtype, shape=value.shape)
    node.attr["value"].tensor.CopyFrom(tensor)
    node.attr["dtype"].type = tensor.dtype
    return node


def prune(graph_def: graph_pb2.GraphDef, outputs: Iterable[str]) -> graph_pb2.GraphDef:
    """Keep only the nodes ``outputs`` depend on (data and control inputs), in original order."""
    by_name = {n.name: n for n in graph_def.node}
    keep: set[str] = set()
    stack = [op_name(o) for o in outputs]
    while stack:
        name = stack.pop()
        if name in keep or name not in by_name:
            continue
        keep.add(name)
        stack.extend(op_name(i) for i in by_name[name].input)
    out = graph_pb2.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    out.library.CopyFrom(graph_def.library)
    out.node.extend(n for n in graph_def.node if n.name in keep)
    return out


def strip_training_nodes(
    graph_def: graph_pb2.GraphDef, outputs: Iterable[str], keep: Iterable[str] = ()
) -> graph_pb2.GraphDef:
    """Bypass pass-through nodes (:data:`PASS_THROUGH_OPS`) and prune to ``outputs``.

    Nodes named in ``outputs`` or ``keep`` (e.g. the inputs) are never bypassed, so the
    graph's interface is unchanged. Control inputs on a bypassed node are dropped: in a frozen
    inference graph they only order training-time updates and checks.
    """
    outputs = [op_name(o) for o in outputs]
    protected = set(outputs) | {op_name(k) for k in keep}
    gd = _copy(graph_def)
    by_name = {n.name: n for n in gd.node}
    bypass = {
        n.name
        for n in gd.node
        if n.op in PASS_THROUGH_OPS
        and n.name not in protected
        and n.input
        and not n.input[0].startswith("^")
    }

    def resolve(inp: str) -> str:
        seen = set()
        while op_name(inp) in bypass and not inp.startswith("^"):
            name = op_name(inp)
            if name in seen:  # a cycle of identities cannot occur in a valid graph; stop anyway
                break
            seen.add(name)
            inp = by_name[name].input[0]
        return inp

    for n in gd.node:
        if n.name in bypass:
            continue
        new_inputs = []
        for inp in n.input:
            if inp.startswith("^") and op_name(inp) in bypass:
                continue
            new_inputs.append(resolve(inp))
        del n.input[:]
        n.input.extend(new_inputs)
    return prune(gd, outputs)


def fold_constants(graph_def: graph_pb2.GraphDef, keep: Iterable[str] = ()) -> graph_pb2.GraphDef:
    """Replace elementwise nodes whose inputs are all ``Const`` by one ``Const`` (NumPy math).

    Only the small elementwise and reshaping ops in ``_FOLDABLE`` and ``_FOLDABLE_WITH_ATTRS``
    are evaluated, in the input's dtype;
    nodes named in ``keep`` are left alone.
    """
    keep = {op_name(k) for k in keep}
    gd = _copy(graph_def)
    values: dict[str, np.ndarray] = {}
    for i, n in enumerate(gd.node):  # frozen graphs list producers before consumers
        if n.op == "Const":
            values[n.name] = _const_value(n)
            continue
        foldable = n.op in _FOLDABLE or n.op in _FOLDABLE_WITH_ATTRS
        if not foldable or n.name in keep or not n.input:
            continue
        if any(inp.startswith("^") or output_index(inp) for inp in n.input):
            continue
        args = [values.get(op_name(inp)) for inp in n.input]
        if any(a is None for a in args):
            continue
        dtype = args[0].dtype
        if n.op in _FOLDABLE:
            result = np.asarray(_FOLDABLE[n.op](*args), dtype=dtype)
        else:
            result = np.asarray(_FOLDABLE_WITH_ATTRS[n.op](n, *args), dtype=dtype)
        values[n.name] = result
        gd.node[i].CopyFrom(_const_node(n.name, result))
    return gd


def _per_channel(value: np.ndarray, channels: int) -> np.ndarray | None:
    """``value`` as a float64 ``[channels]`` vector if it broadcasts per output channel of an
    NHWC tensor without changing its shape, else None."""
    if value.ndim > 4 or not np.issubdtype(value.dtype, np.floating):
        return None
    if value.size == 1:
        return np.full([channels], value.reshape(()), dtype=np.float64)
    if value.shape[-1] == channels and value.size == channels:
        return value.reshape([channels]).astype(np.float64)
    return None


class _Folder:
    """Pattern matcher and rewriter for ``conv -> per-channel affine ops`` chains."""

    def __init__(self, graph_def: graph_pb2.GraphDef, protected: set[str]):
        self.gd = _copy(graph_def)
        self.by_name = {n.name: n for n in self.gd.node}
        self.users = _consumers(self.gd)
        self.protected = protected

    def const(self, inp: str) -> np.ndarray | None:
        node = self.by_name.get(op_name(inp))
        if node is None or node.op != "Const" or inp.startswith("^"):
            return None
        return _const_value(node)

    def unique(self, name: str) -> str:
        candidate, i = name, 1
        while candidate in self.by_name:
            candidate, i = f"{name}_{i}", i + 1
        return candidate

    def add_const(self, name: str, value: np.ndarray) -> str:
        node = _const_node(self.unique(name), value)
        self.gd.node.append(node)
        self.by_name[node.name] = self.gd.node[-1]
        return node.name

    def sole_user(self, node: node_def_pb2.NodeDef) -> node_def_pb2.NodeDef | None:
        """The single consumer of ``node``'s output 0, if ``node`` is private to it."""
        users = self.users.get(node.name, [])
        if len(users) != 1 or node.name in self.protected:
            return None
        user, inp = users[0]
        return None if inp.startswith("^") or output_index(inp) else user

    def affine(self, node: node_def_pb2.NodeDef, src: str, channels: int):
        """``(mul, add)`` with ``node(src) == src * mul + add`` per channel, or None."""
        if node.op in _FUSED_BN_OPS:
            if node.attr["is_training"].b or node.attr["data_format"].s not in (b"", b"NHWC"):
                return None
            if any(i.startswith("^") or output_index(i) for _, i in self.users.get(node.name, [])):
                return None  # the batch statistics outputs are used
            params = [self.const(i) for i in node.input[1:5]]
            if op_name(node.input[0]) != src or any(p is None for p in params):
                return None
            gamma, beta, mean, var = (p.astype(np.float64) for p in params)
            scale = gamma / np.sqrt(var + node.attr["epsilon"].f)
            return scale, beta - mean * scale
        if node.op not in _AFFINE_OPS or len(node.input) != 2:
            return None
        first = op_name(node.input[0]) == src
        if node.op == "BiasAdd" and (not first or node.attr["data_format"].s not in (b"", b"NHWC")):
            return None
        value = self.const(node.input[1] if first else node.input[0])
        c = None if value is None else _per_channel(value, channels)
        if c is None:
            return None
        ones, zeros = np.ones([channels]), np.zeros([channels])
        if node.op == "Mul":
            return c, zeros
        if node.op == "Sub":
            return (ones, -c) if first else (-ones, c)
        return ones, c  # BiasAdd, Add, AddV2

    def fold(self, conv: node_def_pb2.NodeDef) -> bool:
        if conv.attr["data_format"].s not in (b"", b"NHWC"):
            return False
        weights = self.const(conv.input[1])
        if weights is None:
            return False
        if conv.op == "Conv2D":
            channels = weights.shape[3]
        else:
            channels = weights.shape[2] * weights.shape[3]
        mul, add, chain, src = np.ones([channels]), np.zeros([channels]), [], conv
        while (nxt := self.sole_user(src)) is not None:
            step = self.affine(nxt, src.name, channels)
            if step is None:
                break
            mul, add = mul * step[0], add * step[0] + step[1]
            chain.append(nxt)
            src = nxt
        if not chain or [n.op for n in chain] == ["BiasAdd"]:
            return False  # nothing to fold
        if conv.op == "Conv2D":
            new_w = weights.astype(np.float64) * mul
        else:
            new_w = weights.astype(np.float64) * mul.reshape(weights.shape[2], weights.shape[3])
        conv.input[1] = self.add_const(conv.name + "/folded_weights", new_w.astype(weights.dtype))
        bias = self.add_const(conv.name + "/folded_bias", add.astype(weights.dtype))
        # The last node of the chain becomes the BiasAdd, so its consumers keep working.
        last = chain[-1]
        name, dtype, device = last.name, conv.attr["T"].type, last.device
        last.Clear()
        last.name, last.op, last.device = name, "BiasAdd", device
        last.input.extend([conv.name, bias])
        last.attr["T"].type = dtype
        last.attr["data_format"].s = b"NHWC"
        return True


def fold_batch_norms(graph_def: graph_pb2.GraphDef, keep: Iterable[str] = ()) -> graph_pb2.GraphDef:
    """Fold per-channel affine ops after a convolution into its weights plus one ``BiasAdd``.

    Follows ``Conv2D|DepthwiseConv2dNative`` through a chain of ``BiasAdd``,
    ``FusedBatchNorm*`` (inference), and ``Mul``/``Add``/``AddV2``/``Sub`` by constants that
    are per output channel, each the sole consumer of the previous node: conv+BN,
    conv+bias+BN (Keras' ``use_bias=True``) and TF1's forms alike. Run :func:`fold_constants`
    first so Keras 3's decomposed BN is in that form. Nodes named in ``keep`` are never folded
    away. Returns a new GraphDef; the input is not modified.
    """
    keep = {op_name(k) for k in keep}
    folder = _Folder(graph_def, keep)
    for conv in list(folder.gd.node):
        if conv.op in _CONV_OPS:
            if folder.fold(conv):
                folder.users = _consumers(folder.gd)
    return folder.gd


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """The (before, after) zeros TensorFlow's ``padding="SAME"`` adds along one dimension.

    >>> same_padding(112, 3, 2), same_padding(7, 3, 1)
    ((0, 1), (1, 1))
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _static_shapes(graph_def: graph_pb2.GraphDef):
    """tensor name -> static shape (a list, None for unknown dims), by importing the graph."""
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")

    def shape(tensor: str) -> list[int | None] | None:
        s = graph.get_tensor_by_name(tensor if ":" in tensor else tensor + ":0").shape
        return None if s.rank is None else s.as_list()

    return shape


def _pad_amounts(pad: node_def_pb2.NodeDef, by_name) -> np.ndarray | None:
    """A zero ``Pad``/``PadV2``'s constant ``[4, 2]`` amounts, or None."""
    consts = [by_name.get(op_name(i)) for i in pad.input[1:]]
    if any(c is None or c.op != "Const" for c in consts):
        return None
    amounts = _const_value(consts[0])
    if pad.op == "PadV2" and np.any(_const_value(consts[1]) != 0):
        return None
    if amounts.shape != (4, 2) or np.any(amounts < 0):
        return None
    return amounts.astype(np.int64)


def fold_pads(graph_def: graph_pb2.GraphDef, keep: Iterable[str] = ()) -> graph_pb2.GraphDef:
    """Fold a zero ``Pad`` (Keras' ``ZeroPadding2D``) into the ``VALID`` convolution it feeds.

    The convolution reads the unpadded input with ``padding="SAME"`` when the pad amounts are
    exactly SAME's for the input's static height/width, else (``Conv2D`` only) with
    ``padding="EXPLICIT"``. A ``DepthwiseConv2dNative`` keeps a pad SAME does not reproduce:
    with EXPLICIT padding followed by ``BiasAdd + Relu6``, TF 2.21's grappler aborts the
    process during shape inference. Only pads of height and width, with the pad the
    convolution's sole input consumer and not named in ``keep``, are folded.
    """
    keep = {op_name(k) for k in keep}
    gd = _copy(graph_def)
    by_name = {n.name: n for n in gd.node}
    users = _consumers(gd)
    shape_of = None
    for conv in gd.node:
        if conv.op not in _CONV_OPS or conv.attr["data_format"].s not in (b"", b"NHWC"):
            continue
        pad = by_name.get(op_name(conv.input[0]))
        if pad is None or pad.op not in ("Pad", "PadV2") or pad.name in keep:
            continue
        if output_index(conv.input[0]) or len(users[pad.name]) != 1:
            continue
        amounts = _pad_amounts(pad, by_name)
        padding = conv.attr["padding"].s
        if amounts is None or amounts[0].any() or amounts[3].any():
            continue
        if padding == b"VALID":
            total = amounts
        elif padding == b"EXPLICIT":
            total = amounts + np.reshape(conv.attr["explicit_paddings"].list.i, (4, 2))
        else:
            continue
        shape_of = shape_of or _static_shapes(graph_def)
        in_shape, kernel = shape_of(pad.input[0]), shape_of(conv.input[1])
        strides = list(conv.attr["strides"].list.i)
        dilations = list(conv.attr["dilations"].list.i) or [1, 1, 1, 1]
        same = None
        sizes = (in_shape or [None] * 4)[1:3] + (kernel or [None] * 4)[:2]
        if None not in sizes:
            same = [
                same_padding(in_shape[d], kernel[d - 1], strides[d], dilations[d]) for d in (1, 2)
            ]
        if same is not None and total[1:3].tolist() == [list(s) for s in same]:
            new_padding, explicit = b"SAME", []
        elif conv.op == "Conv2D":
            new_padding, explicit = b"EXPLICIT", total.reshape(-1).tolist()
        else:
            continue
        conv.attr["padding"].s = new_padding
        del conv.attr["explicit_paddings"].list.i[:]
        conv.attr["explicit_paddings"].list.i.extend(explicit)
        conv.input[0] = pad.input[0]
    return gd


def optimize(
    graph_def: graph_pb2.GraphDef, outputs: Iterable[str], inputs: Iterable[str] = ()
) -> graph_pb2.GraphDef:
    """All passes: strip training nodes, fold constants, batch norms and pads, prune to ``outputs``.

    ``inputs`` and ``outputs`` (node or tensor names) keep their names and meaning.
    """
    outputs = [op_name(o) for o in outputs]
    keep = set(outputs) | {op_name(i) for i in inputs}
    gd = strip_training_nodes(graph_def, outputs, keep)
    gd = fold_constants(gd, keep)
    gd = fold_batch_norms(gd, keep)
    gd = fold_pads(gd, keep)
    return prune(gd, outputs)
