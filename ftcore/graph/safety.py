"""Refuse untrusted GraphDefs that could touch the file system or run code.

A GraphDef is a program: ``ReadFile``, ``WriteFile``, ``SaveV2``/``RestoreV2``,
``MatchingFiles``, ``PyFunc``/``EagerPyFunc`` and friends run as soon as a fetch depends on
them. This module uses an **allow-list**: a graph passes only if every node (in the graph and in
every function of its library) is a known pure inference op (:data:`SAFE_OPS`: tensor math,
NN layers, shape manipulation, dataflow control). A deny-list would silently pass whatever new
file or network op TensorFlow adds next; the allow-list fails closed, and the caller opts in to
extra ops explicitly (``allow_ops={"MyOp"}``) or to everything (``trust=True``).
Refusals name the offending nodes and, for known dangerous ops, what they do.

The whole policy lives here: frozen ``.pb`` files pass :data:`SAFE_OPS`; saved training
graphs (``.meta``, read by :func:`read_meta_graph_def`) may also hold what
:func:`meta_allowed_ops` admits (variables and the saver, losses, gradients, optimizer
updates, summaries). :func:`ftcore.graph.restore.load_meta_graph` and :func:`load_graph_def`
apply it before anything is imported.

    >>> import tensorflow as tf
    >>> g = tf.Graph()
    >>> with g.as_default():
    ...     _ = tf.io.write_file("/tmp/leak", tf.constant("x"), name="leak")
    >>> check_graph(g.as_graph_def())  # load_graph_def("model.pb") runs the same check
    Traceback (most recent call last):
    ftcore.errors.UnsafeGraphError: graph contains ops outside the safe inference set: node 'leak' (WriteFile: writes files); ...
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from google.protobuf.message import DecodeError
from tensorflow.core.framework import graph_pb2
from tensorflow.core.protobuf import meta_graph_pb2

from ftcore.errors import InvalidFileError, UnsafeGraphError
from ftcore.file_kinds import KINDS, read_file

#: Pure ops seen in exported inference graphs (no file system, no network, no code execution).
SAFE_OPS: frozenset[str] = frozenset(
    """
    Placeholder PlaceholderWithDefault Const Identity IdentityN NoOp StopGradient PreventGradient
    CheckNumerics Snapshot EnsureShape
    Conv2D Conv3D Conv2DBackpropInput DepthwiseConv2dNative BiasAdd MatMul BatchMatMul
    BatchMatMulV2 BatchMatMulV3 Einsum FusedBatchNorm FusedBatchNormV2 FusedBatchNormV3
    LRN AvgPool AvgPool3D MaxPool MaxPoolV2 MaxPool3D
    Relu Relu6 Elu Selu LeakyRelu Sigmoid Tanh Softmax LogSoftmax Softplus Softsign Gelu
    Add AddV2 AddN Sub Mul MulNoNan RealDiv Div DivNoNan FloorDiv FloorMod TruncateDiv Maximum
    Minimum Pow SquaredDifference Square Sqrt Rsqrt Reciprocal Inv Exp Expm1 Log Log1p Neg Abs
    Sign Floor Ceil Round Rint Erf Sin Cos ClipByValue BiasAddV1
    Mean Sum Max Min Prod All Any ArgMax ArgMin TopKV2 Cumsum
    Equal NotEqual Less LessEqual Greater GreaterEqual LogicalAnd LogicalOr LogicalNot
    Select SelectV2 Where
    Reshape Squeeze ExpandDims Shape ShapeN Size Rank Pad PadV2 MirrorPad ConcatV2 Concat Pack
    Unpack Split SplitV Slice StridedSlice Transpose Tile Fill Range Cast Bitcast Gather
    GatherV2 GatherNd BroadcastTo BroadcastArgs ZerosLike OnesLike OneHot ReverseV2
    SpaceToBatchND BatchToSpaceND SpaceToDepth DepthToSpace
    ResizeBilinear ResizeNearestNeighbor ResizeBicubic
    Switch Merge Enter Exit NextIteration LoopCond
    If StatelessIf While StatelessWhile PartitionedCall StatefulPartitionedCall
    """.split()
)

#: Ops that are not merely unknown but known to reach outside the process: what they do.
DANGEROUS_OPS: dict[str, str] = {
    **dict.fromkeys(["ReadFile", "ImmutableConst", "DecodeProtoV2"], "reads files"),
    **dict.fromkeys(["WriteFile", "DeleteFile", "SaveSlices"], "writes files"),
    **dict.fromkeys(["Save", "SaveV2", "MergeV2Checkpoints"], "writes checkpoint files"),
    **dict.fromkeys(["Restore", "RestoreV2", "RestoreSlice"], "reads checkpoint files"),
    **dict.fromkeys(["MatchingFiles", "MatchingFilesDataset"], "lists the file system"),
    **dict.fromkeys(["PyFunc", "PyFuncStateless", "EagerPyFunc"], "runs Python code"),
    **dict.fromkeys(
        [
            "WholeFileReader",
            "WholeFileReaderV2",
            "TFRecordReaderV2",
            "TextLineReaderV2",
            "FixedLengthRecordReaderV2",
            "ReaderReadV2",
            "TFRecordDataset",
            "TFRecordDatasetV2",
            "TextLineDataset",
            "FixedLengthRecordDataset",
            "FixedLengthRecordDatasetV2",
        ],
        "reads files",
    ),
    **dict.fromkeys(
        [
            "WriteSummary",
            "WriteScalarSummary",
            "WriteImageSummary",
            "CreateSummaryFileWriter",
            "SummaryWriter",
        ],
        "writes event files",
    ),
    **dict.fromkeys(["LoadAndRemapMatrix", "GenerateVocabRemapping"], "reads checkpoint files"),
}

#: The extra ops a checkpoint's own meta graph needs to restore itself (see ``allow_ops``).
CHECKPOINT_OPS: frozenset[str] = frozenset(
    """
    VarHandleOp VariableV2 Variable ReadVariableOp AssignVariableOp Assign AssignAdd AssignSub
    AssignAddVariableOp AssignSubVariableOp VarIsInitializedOp IsVariableInitialized
    SaveV2 RestoreV2 MergeV2Checkpoints StringJoin ShardedFilename Sharded ShardedFilespec
    TruncatedNormal RandomUniform RandomStandardNormal Assert
    """.split()
)


#: Ops of saved training graphs besides inference ops: losses, regularizers, gradient
#: bookkeeping and summaries. None of them touches files or runs code.
TRAINING_OPS = frozenset(
    """
    L2Loss SparseSoftmaxCrossEntropyWithLogits SoftmaxCrossEntropyWithLogits
    BroadcastGradientArgs DynamicStitch Unique UnsortedSegmentSum InTopKV2 DivNoNan
    ScalarSummary HistogramSummary MergeSummary NoOp
    """.split()
)


def meta_allowed_ops(graph_def) -> set[str]:
    """Ops a saved graph legitimately holds besides inference ops: variables and the saver,
    :data:`TRAINING_OPS`, gradient ops (``*Grad*``, ``*Backprop*``) and optimizer updates."""
    types = {n.op for n in graph_def.node}
    generated = {
        t for t in types if "Grad" in t or "Backprop" in t or t.startswith("ResourceApply")
    }
    return set(CHECKPOINT_OPS) | TRAINING_OPS | generated


def read_meta_graph_def(meta: str | os.PathLike) -> meta_graph_pb2.MetaGraphDef:
    """Parse a ``.meta`` file (nothing is imported or run): a missing, empty or non-MetaGraphDef
    file raises :class:`~ftcore.errors.MissingFileError` / :class:`~ftcore.errors.InvalidFileError`.
    :func:`meta_allowed_ops` tells which ops it may hold."""
    data = read_file(meta, KINDS["meta"])
    meta_def = meta_graph_pb2.MetaGraphDef()
    try:
        meta_def.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise InvalidFileError(
            f"{meta} is not a MetaGraphDef (.meta) file, or it is truncated: {e}"
        ) from None
    if not meta_def.graph_def.node:
        raise InvalidFileError(f"{meta} is not a MetaGraphDef (.meta) file: its graph is empty")
    return meta_def


def unsafe_nodes(
    graph_def: graph_pb2.GraphDef, allow_ops: Iterable[str] = ()
) -> list[tuple[str, str]]:
    """``[(node name, op)]`` for every node outside :data:`SAFE_OPS` and ``allow_ops``.

    Nodes inside library functions are reported as ``"function_name/node_name"``.
    """
    allowed = SAFE_OPS | frozenset(allow_ops)
    found = [(n.name, n.op) for n in graph_def.node if n.op not in allowed]
    for fn in graph_def.library.function:
        found += [
            (f"{fn.signature.name}/{n.name}", n.op) for n in fn.node_def if n.op not in allowed
        ]
    return found


def check_graph(
    graph_def: graph_pb2.GraphDef,
    allow_ops: Iterable[str] = (),
    trust: bool = False,
    source: str = "graph",
) -> graph_pb2.GraphDef:
    """Return ``graph_def`` if every op is known safe, else raise :class:`UnsafeGraphError`.

    ``trust=True`` skips the check (the caller vouches for the graph); ``allow_ops`` admits
    named extra ops. The error names each offending node, its op and (for known ops) what it does.
    """
    if trust:
        return graph_def
    bad = unsafe_nodes(graph_def, allow_ops)
    if bad:
        shown = ", ".join(
            f"node {name!r} ({op}: {DANGEROUS_OPS.get(op, 'not a known-safe inference op')})"
            for name, op in bad[:8]
        )
        more = f" and {len(bad) - 8} more" if len(bad) > 8 else ""
        raise UnsafeGraphError(
            f"{source} contains ops outside the safe inference set: {shown}{more}; "
            "refusing to load it (pass trust=True / --trust if you trust its author, "
            "or allow_ops for specific ops)"
        )
    return graph_def


def parse_graph_def(data: bytes, source: str = "data") -> graph_pb2.GraphDef:
    """Parse a serialized GraphDef, raising :class:`InvalidFileError` if it is not one."""
    graph_def = graph_pb2.GraphDef()
    try:
        graph_def.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise InvalidFileError(
            f"{source} is not a binary GraphDef protobuf (.pb), or it is truncated: {e}"
        ) from None
    if not graph_def.node:
        raise InvalidFileError(f"{source} is not a binary GraphDef protobuf (.pb): it has no nodes")
    return graph_def


def load_graph_def(
    path: str | os.PathLike, allow_ops: Iterable[str] = (), trust: bool = False
) -> graph_pb2.GraphDef:
    """Read a frozen ``.pb``: check it exists, parses as a GraphDef and passes :func:`check_graph`."""
    graph_def = parse_graph_def(read_file(path, KINDS["pb"]), source=str(path))
    return check_graph(graph_def, allow_ops=allow_ops, trust=trust, source=str(path))
