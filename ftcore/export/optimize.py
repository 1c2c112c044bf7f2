"""Inference optimization of frozen GraphDefs: strip training-only nodes, fold batch norm.

Three passes, each a pure ``GraphDef -> GraphDef`` function, combined by :func:`optimize`:

1. :func:`strip_training_nodes` rewires around ``Identity``/``CheckNumerics``/``StopGradient``
   style pass-through nodes and prunes everything the outputs do not need (dropout branches,
   asserts, ``NoOp`` s, unused ``FusedBatchNorm`` side outputs).
2. :func:`fold_constants` evaluates (with NumPy) the elementwise subgraphs whose inputs are all
   constants. Keras 3's ``BatchNormalization`` freezes into such a subgraph
   (``Rsqrt(var + eps) * gamma`` and ``beta - mean * scale``), so afterwards it is a per-channel
   ``Mul`` by a constant followed by an ``AddV2`` of a constant.
3. :func:`fold_batch_norms` folds the per-channel scale into the preceding ``Conv2D`` /
   ``DepthwiseConv2dNative`` weights and turns the offset into a ``BiasAdd``, for TF1's
   ``FusedBatchNorm``/``V2``/``V3`` (``is_training=False``) and for the ``Mul``/``AddV2``
   pattern. ``Conv2D + BiasAdd + Relu6`` is then fused by TensorFlow's grappler remapper.

    >>> gd = optimize(frozen_graph_def, outputs=["MobilenetV2/Predictions/Reshape_1"])  # doctest: +SKIP
    >>> count_ops(gd)["FusedBatchNormV3"]  # doctest: +SKIP
    0
"""

from __future__ import annotations

import collections
from collections.abc import Iterable

import numpy as np
from tensorflow.core.framework import graph_pb2, node_def_pb2
from tensorflow.python.framework import tensor_util

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
}

_CONV_OPS = frozenset({"Conv2D", "DepthwiseConv2dNative"})
_FUSED_BN_OPS = frozenset({"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"})


def node_name(tensor_or_node: str) -> str:
    """``"^a/b:1"`` -> ``"a/b"``.

    >>> node_name("^scope/conv:0"), node_name("x")
    ('scope/conv', 'x')
    """
    return tensor_or_node.lstrip("^").split(":")[0]


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
            users[node_name(inp)].append((n, inp))
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
    stack = [node_name(o) for o in outputs]
    while stack:
        name = stack.pop()
        if name in keep or name not in by_name:
            continue
        keep.add(name)
        stack.extend(node_name(i) for i in by_name[name].input)
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
    outputs = [node_name(o) for o in outputs]
    protected = set(outputs) | {node_name(k) for k in keep}
    gd = _copy(graph_def)
    by_name = {n.name: n for n in gd.node}
    bypass = {
        n.name
        for n in gd.node
        if n.op in PASS_THROUGH_OPS and n.name not in protected and n.input
        and not n.input[0].startswith("^")
    }  # fmt: skip

    def resolve(inp: str) -> str:
        seen = set()
        while node_name(inp) in bypass and not inp.startswith("^"):
            name = node_name(inp)
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
            if inp.startswith("^") and node_name(inp) in bypass:
                continue
            new_inputs.append(resolve(inp))
        del n.input[:]
        n.input.extend(new_inputs)
    return prune(gd, outputs)


def fold_constants(graph_def: graph_pb2.GraphDef, keep: Iterable[str] = ()) -> graph_pb2.GraphDef:
    """Replace elementwise nodes whose inputs are all ``Const`` by one ``Const`` (NumPy math).

    Only the small elementwise ops (and ``Reshape``) in ``_FOLDABLE`` are evaluated, in the input's dtype;
    nodes named in ``keep`` are left alone.
    """
    keep = {node_name(k) for k in keep}
    gd = _copy(graph_def)
    values: dict[str, np.ndarray] = {}
    for i, n in enumerate(gd.node):  # frozen graphs list producers before consumers
        if n.op == "Const":
            values[n.name] = _const_value(n)
            continue
        if n.op not in _FOLDABLE or n.name in keep or not n.input:
            continue
        if any(inp.startswith("^") or output_index(inp) for inp in n.input):
            continue
        args = [values.get(node_name(inp)) for inp in n.input]
        if any(a is None for a in args):
            continue
        dtype = args[0].dtype
        result = np.asarray(_FOLDABLE[n.op](*args), dtype=dtype)
        values[n.name] = result
        gd.node[i].CopyFrom(_const_node(n.name, result))
    return gd


def _per_channel(value: np.ndarray, channels: int) -> np.ndarray | None:
    """``value`` as a ``[channels]`` vector if it broadcasts per output channel (NHWC), else None."""
    if value.size == 1:
        return np.full([channels], value.reshape(()), dtype=value.dtype)
    if value.shape[-1:] == (channels,) and value.size == channels:
        return value.reshape([channels])
    return None


class _Folder:
    """Pattern matcher and rewriter for ``conv [-> BiasAdd] -> BN`` chains."""

    def __init__(self, graph_def: graph_pb2.GraphDef, protected: set[str]):
        self.gd = _copy(graph_def)
        self.by_name = {n.name: n for n in self.gd.node}
        self.users = _consumers(self.gd)
        self.protected = protected

    def const(self, inp: str) -> np.ndarray | None:
        node = self.by_name.get(node_name(inp))
        if node is None or node.op != "Const" or inp.startswith("^"):
            return None
        return _const_value(node)

    def sole_user(self, node: node_def_pb2.NodeDef) -> node_def_pb2.NodeDef | None:
        """The single consumer of ``node``'s output 0, if ``node`` is private to it."""
        users = self.users.get(node.name, [])
        if len(users) != 1 or node.name in self.protected:
            return None
        user, inp = users[0]
        return None if inp.startswith("^") or output_index(inp) else user

    def scale_offset(self, bn: node_def_pb2.NodeDef, src: str, channels: int):
        """(scale, offset, last node) of the BN starting at ``bn`` applied to ``src``, or None."""
        if bn.op in _FUSED_BN_OPS:
            if bn.attr["is_training"].b or bn.attr["data_format"].s not in (b"", b"NHWC"):
                return None
            if any(i.startswith("^") or output_index(i) for _, i in self.users.get(bn.name, [])):
                return None  # the batch statistics outputs are used
            params = [self.const(i) for i in bn.input[1:5]]
            if node_name(bn.input[0]) != src or any(p is None for p in params):
                return None
            gamma, beta, mean, var = (p.astype(np.float64) for p in params)
            scale = gamma / np.sqrt(var + bn.attr["epsilon"].f)
            return scale, beta - mean * scale, bn
        if bn.op != "Mul":
            return None
        a, b = bn.input[0], bn.input[1]
        factor = (
            self.const(b) if node_name(a) == src else self.const(a) if node_name(b) == src else None
        )
        scale = None if factor is None else _per_channel(factor.astype(np.float64), channels)
        if scale is None:
            return None
        offset, last = np.zeros([channels]), bn
        add = self.sole_user(bn)
        if add is not None and add.op in ("Add", "AddV2"):
            x, y = add.input[0], add.input[1]
            term = (
                self.const(y)
                if node_name(x) == bn.name
                else self.const(x)
                if node_name(y) == bn.name
                else None
            )
            term = None if term is None else _per_channel(term.astype(np.float64), channels)
            if term is not None:
                offset, last = term, add
        return scale, offset, last

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
        head, bias = conv, np.zeros([channels])
        nxt = self.sole_user(conv)
        if nxt is not None and nxt.op == "BiasAdd" and node_name(nxt.input[0]) == conv.name:
            b = self.const(nxt.input[1])
            if b is None:
                return False
            head, bias, nxt = nxt, b.astype(np.float64), self.sole_user(nxt)
        if nxt is None:
            return False
        found = self.scale_offset(nxt, head.name, channels)
        if found is None:
            return False
        scale, offset, last = found
        if conv.op == "Conv2D":
            new_w = weights.astype(np.float64) * scale
        else:
            new_w = weights.astype(np.float64) * scale.reshape(weights.shape[2], weights.shape[3])
        w_node = _const_node(conv.name + "/folded_weights", new_w.astype(weights.dtype))
        b_node = _const_node(
            conv.name + "/folded_bias", (bias * scale + offset).astype(weights.dtype)
        )
        self.gd.node.extend([w_node, b_node])
        conv.input[1] = w_node.name
        # The last node of the pattern becomes the BiasAdd, so its consumers keep working.
        name, dtype, device = last.name, conv.attr["T"].type, last.device
        last.Clear()
        last.name, last.op, last.device = name, "BiasAdd", device
        last.input.extend([conv.name, b_node.name])
        last.attr["T"].type = dtype
        last.attr["data_format"].s = b"NHWC"
        return True


def fold_batch_norms(graph_def: graph_pb2.GraphDef, keep: Iterable[str] = ()) -> graph_pb2.GraphDef:
    """Fold inference batch norm into the preceding convolution's weights plus a ``BiasAdd``.

    Matches ``Conv2D|DepthwiseConv2dNative [-> BiasAdd] -> FusedBatchNorm*`` and
    ``... -> Mul(const) [-> Add|AddV2(const)]`` where the constants are per output channel.
    Run :func:`fold_constants` first so Keras 3's decomposed BN is in that form. Nodes named in
    ``keep`` are never folded away. Returns a new GraphDef; the input is not modified.
    """
    keep = {node_name(k) for k in keep}
    folder = _Folder(graph_def, keep)
    for conv in list(folder.gd.node):
        if conv.op in _CONV_OPS:
            if folder.fold(conv):
                folder.users = _consumers(folder.gd)
    return folder.gd


def optimize(
    graph_def: graph_pb2.GraphDef, outputs: Iterable[str], inputs: Iterable[str] = ()
) -> graph_pb2.GraphDef:
    """All passes: strip training nodes, fold constants, fold batch norms, prune to ``outputs``.

    ``inputs`` and ``outputs`` (node or tensor names) keep their names and meaning.
    """
    outputs = [node_name(o) for o in outputs]
    keep = set(outputs) | {node_name(i) for i in inputs}
    gd = strip_training_nodes(graph_def, outputs, keep)
    gd = fold_constants(gd, keep)
    gd = fold_batch_norms(gd, keep)
    return prune(gd, outputs)
