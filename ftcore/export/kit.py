"""What every export shares: the model frozen for export, its self-check, and the steps that
freeze a Keras model, a live TF1 session or a checkpoint.

A :class:`FrozenModel` is a frozen GraphDef with its one input, its outputs and the restored
model (``reference``) it must reproduce; :class:`SelfCheck` says how: on a probe batch
(:func:`probe_batch`) and on real photos (the library's own, :func:`ftcore.assets.photo_paths`)
within ``|export - restored| <= atol + rtol * |restored|`` (:func:`compare_outputs`).
:mod:`ftcore.export.pb` and :mod:`ftcore.export.litert` both start from here.

    >>> import keras
    >>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 3)])
    >>> frozen = keras_export(model)
    >>> frozen.inputs[0].shape, [op.op for op in frozen.graph_def.node][:1]
    ([None, 8, 8, 3], ['Placeholder'])
    >>> x = SelfCheck().probe_for(frozen.inputs[0].shape)
    >>> compare_outputs(frozen.reference(x), run_graph_def(frozen.graph_def,
    ...     {frozen.inputs[0].name: x}, [t.name for t in frozen.outputs]), "frozen") < 1e-5
    True
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import graph_pb2
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from ftcore.assets import photo_paths
from ftcore.errors import FtcoreError, MismatchError, unknown_name
from ftcore.graph import import_graph, op_name, restore_meta_graph, single_placeholder
from ftcore.predict import image_size, load_images
from ftcore.preprocessing import PREPROCESSING
from ftcore.sidecar import TensorInfo

v1 = tf.compat.v1

ATOL, RTOL = 1e-4, 1e-3
#: The restored model an export is checked against: a batch in, its outputs out.
Reference = Callable[[np.ndarray], Sequence[np.ndarray]]


@dataclasses.dataclass(frozen=True)
class FrozenModel:
    """What every export starts from: a frozen GraphDef, its single input and its outputs,
    and the restored model (``reference``) the export must reproduce."""

    graph_def: graph_pb2.GraphDef
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    reference: Reference


@dataclasses.dataclass(frozen=True)
class SelfCheck:
    """How an export checks itself: ``|export - restored| <= atol + rtol * |restored|`` on
    ``probe`` (default: a seeded random batch in [-1, 1]) and on real ``photos`` (image
    files; default: the library's photos, :func:`ftcore.assets.photo_paths`) when the input is an ``[N, H, W, 3]`` image."""

    probe: np.ndarray | None = None
    atol: float = ATOL
    rtol: float = RTOL
    photos: Sequence[str | os.PathLike] | None = None

    def __post_init__(self) -> None:  # a NaN tolerance would pass every comparison
        for name in ("atol", "rtol"):
            value = getattr(self, name)
            if not (0 <= value < float("inf")):
                raise FtcoreError(f"SelfCheck {name} must be a finite number >= 0, got {value!r}")

    def probe_for(self, shape: Sequence[int | None]) -> np.ndarray:
        return probe_batch(shape) if self.probe is None else np.asarray(self.probe, np.float32)

    def photos_for(
        self, shape: Sequence[int | None], preprocessing: str
    ) -> tuple[np.ndarray | None, dict]:
        """(the photos as a batch for ``shape``, or None; the figures naming them or why not)."""
        photos = self.photos
        if photos is None:
            photos = list(photo_paths().values())
        try:
            size = image_size(shape)
        except MismatchError as e:
            return None, {"photos": [], "photos_skipped": str(e)}
        batch = load_images(photos, size, preprocessing=preprocessing)
        return batch, {"photos": [Path(p).name for p in photos]}


# --- TF1 checkpoints (restored with ftcore.graph.restore) ----------------------------------


def _tensor_name(graph: tf.Graph, name: str, kind: str = "tensor") -> str:
    """Validate ``name`` (node or tensor) against ``graph``; return ``node:index``."""
    tensor = name if ":" in name else name + ":0"
    try:
        graph.get_tensor_by_name(tensor)
    except (KeyError, ValueError):
        candidates = [op.name for op in graph.get_operations()]
        raise unknown_name(kind, op_name(name), candidates) from None
    return tensor


def _tensor_info(t: tf.Tensor) -> TensorInfo:
    shape = None if t.shape.rank is None else t.shape.as_list()
    return TensorInfo(t.name, shape, t.dtype.name)


def session_graph_def(sess: v1.Session, outputs: Sequence[str]) -> graph_pb2.GraphDef:
    """Freeze ``sess.graph`` to constants, keeping what ``outputs`` need (resource variables too)."""
    names = [op_name(_tensor_name(sess.graph, o, "output")) for o in outputs]
    return v1.graph_util.convert_variables_to_constants(sess, sess.graph.as_graph_def(), names)


def session_export(
    sess: v1.Session, outputs: Sequence[str], input_name: str | None = None
) -> FrozenModel:
    """A live session frozen for export, with the session itself as the reference.

    ``input_name`` defaults to the graph's only placeholder; the reference runs the session.
    """
    graph = sess.graph
    if input_name is None:
        inp = single_placeholder(graph)
    else:
        inp = graph.get_tensor_by_name(_tensor_name(graph, input_name, "input"))
    outs = [graph.get_tensor_by_name(_tensor_name(graph, o, "output")) for o in outputs]
    graph_def = session_graph_def(sess, [t.name for t in outs])
    reference = lambda x: sess.run(outs, {inp: x})  # noqa: E731
    return FrozenModel(graph_def, [_tensor_info(inp)], [_tensor_info(t) for t in outs], reference)


# --- Keras ----------------------------------------------------------------------------------


def keras_graph_def(model) -> tuple[graph_pb2.GraphDef, list[TensorInfo], list[TensorInfo]]:
    """Freeze a single-input Keras model's inference function: (GraphDef, inputs, outputs)."""
    if len(model.inputs) != 1:
        raise MismatchError(
            f"keras_graph_def handles single-input models; {model.name} has {len(model.inputs)}"
        )
    spec = tf.TensorSpec([None, *model.inputs[0].shape[1:]], model.inputs[0].dtype, name="input")
    fn = tf.function(lambda x: model(x, training=False))
    frozen = convert_variables_to_constants_v2(fn.get_concrete_function(spec))
    inputs = [_tensor_info(t) for t in frozen.inputs if t.dtype != tf.resource]
    outputs = [_tensor_info(t) for t in frozen.outputs]
    return frozen.graph.as_graph_def(), inputs, outputs


def keras_export(model) -> FrozenModel:
    """A Keras model frozen for export, with the model itself (inference mode) as the reference."""
    return FrozenModel(*keras_graph_def(model), keras_reference(model))


def keras_reference(model) -> Reference:
    """The Keras model itself in inference mode, as the exports' self-check reference."""

    def reference(x: np.ndarray) -> list[np.ndarray]:
        out = model(x, training=False)
        return [np.asarray(o) for o in (out if isinstance(out, list | tuple) else [out])]

    return reference


# --- running and checking -------------------------------------------------------------------


def run_graph_def(
    graph_def: graph_pb2.GraphDef, feeds: dict[str, np.ndarray], fetches: Sequence[str]
) -> list[np.ndarray]:
    """Run ``graph_def`` once in a fresh session (for checks, not for speed)."""
    with v1.Session(graph=import_graph(graph_def)) as sess:
        return sess.run(list(fetches), feed_dict=feeds)


def compare_outputs(
    reference: Sequence[np.ndarray],
    candidate: Sequence[np.ndarray],
    what: str,
    atol: float = ATOL,
    rtol: float = RTOL,
) -> float:
    """Max ``|candidate - reference|``; raise :class:`MismatchError` with the numbers if out of tolerance."""
    worst = 0.0
    for i, (ref, got) in enumerate(zip(reference, candidate, strict=True)):
        ref, got = np.asarray(ref, np.float64), np.asarray(got, np.float64)
        if ref.shape != got.shape:
            raise MismatchError(
                f"{what}: output {i} has shape {got.shape}, restored model {ref.shape}"
            )
        diff = np.abs(got - ref)
        excess = diff - (atol + rtol * np.abs(ref))
        if not (np.all(np.isfinite(got)) and np.all(np.isfinite(ref))) or np.any(excess > 0):
            raise MismatchError(
                f"{what}: output {i} differs from the restored model by up to {diff.max():.3g} "
                f"(tolerance {atol:g} + {rtol:g}*|restored|, restored max |value| {np.abs(ref).max():.3g}, "
                f"{int(np.sum(excess > 0))} of {ref.size} values out of tolerance)"
            )
        worst = max(worst, float(diff.max()))
    return worst


def probe_batch(shape: Sequence[int | None], batch: int = 2, seed: int = 0) -> np.ndarray:
    """A deterministic batch in the MobileNet input range [-1, 1] for the export self-check."""
    dims = list(shape[1:])
    if any(d is None for d in dims):
        raise MismatchError(f"input shape {list(shape)} has unknown dimensions; pass a probe batch")
    return np.random.default_rng(seed).uniform(-1, 1, [batch, *dims]).astype(np.float32)


def check_single_input(model: FrozenModel, preprocessing: str) -> None:
    """Exports handle one input and a known preprocessing convention."""
    if len(model.inputs) != 1:
        raise MismatchError(
            f"export handles single-input graphs; got inputs {[t.name for t in model.inputs]}"
        )
    if preprocessing not in PREPROCESSING:
        raise unknown_name("preprocessing", preprocessing, PREPROCESSING)


@contextlib.contextmanager
def checkpoint_export(
    ckpt: str | os.PathLike, outputs: Sequence[str], input_name: str | None, trust: bool
) -> Iterator[FrozenModel]:
    """A checkpoint restored through its ``.meta`` and frozen for export, the restored session
    as the reference (open while the block runs). Every exporter of checkpoints uses this."""
    with restore_meta_graph(ckpt, trust=trust) as restored:
        yield session_export(restored.session, outputs, input_name)


@contextlib.contextmanager
def pb_export(
    pb_path: str | os.PathLike,
    outputs: Sequence[str] | None,
    input_name: str | None,
    trust: bool,
    kwargs: dict,
) -> Iterator[FrozenModel]:
    """A frozen ``.pb`` (safety-checked) to convert again, TensorFlow running it as the
    reference. Names, preprocessing and labels default to the ``.pb``'s sidecar: its
    preprocessing, labels and a ``source`` are set into ``kwargs`` unless given. Every
    exporter of ``.pb`` files uses this."""
    from ftcore.graph import load_graph_def
    from ftcore.sidecar import read_sidecar

    graph_def = load_graph_def(pb_path, trust=trust)
    sidecar = read_sidecar(pb_path)
    if sidecar is not None:
        input_name = input_name or sidecar.inputs[0].name
        outputs = outputs or [t.name for t in sidecar.outputs]
        kwargs.setdefault("preprocessing", sidecar.preprocessing)
        kwargs.setdefault("labels", sidecar.labels)
    if not outputs:
        raise MismatchError(f"name the output tensor(s) of {pb_path} (it has no sidecar)")
    kwargs.setdefault("source", f"frozen graph {pb_path}")
    with tf.compat.v1.Session(graph=import_graph(graph_def, source=str(pb_path))) as session:
        yield session_export(session, outputs, input_name)
