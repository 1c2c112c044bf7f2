"""One prediction interface over three paths: *restored* (variables), *frozen* (constants) and
*tflite* (a LiteRT flatbuffer).

- :func:`from_checkpoint`: a TF1 checkpoint's meta graph restored into a session; the
  variables are read at run time.
- :func:`from_keras`: a Keras model behind one compiled ``tf.function`` (no eager
  ``model(x)`` or ``predict()`` overhead per call).
- :func:`from_pb`: a frozen (by default optimized) ``.pb`` imported into a session; names, labels
  and preprocessing come from its sidecar (see :mod:`ftcore.sidecar`).
- :func:`from_tflite`: a ``.tflite`` export in the LiteRT interpreter (:mod:`ftcore.predict.litert`),
  float or int8; names, labels and preprocessing from its sidecar.
- :func:`from_onnx`: an ``.onnx`` export in onnxruntime (:mod:`ftcore.predict.onnx_runtime`).

Session paths call ``Session.make_callable`` (no per-call feed/fetch resolution), so the frozen
and restored paths differ only in the graph they run. All take the same NHWC float32 batches.

    >>> from ftcore.assets import photo_paths
    >>> from ftcore_fixtures.build import ensure_built
    >>> p = from_pb(ensure_built().frozen_pb, output="MobilenetV2/Predictions/Reshape_1",
    ...             labels=["zero", "one", "two", "three", "four"])  # the test digit model
    >>> [top] = p.top_k_images([photo_paths()["chelsea_cat"]], k=2)
    >>> p.kind, len(top), top[0].label in p.labels, 0.0 <= top[1].score <= top[0].score <= 1.0
    ('frozen', 2, True, True)
"""

from __future__ import annotations

import inspect
import os
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from ftcore.errors import (
    FtcoreError,
    InvalidFileError,
    MismatchError,
    UnsafeContentError,
    close_matches,
    first_line,
    unknown_name,
)
from ftcore.file_kinds import KINDS, check_file, model_kind
from ftcore.graph import (
    import_graph,
    load_graph_def,
    optimize,
    resolve_tensor,
    restore_meta_graph,
    single_placeholder,
)
from ftcore.predict.images import image_size, load_images
from ftcore.predict.litert import LiteRTModel
from ftcore.sidecar import read_sidecar

v1 = tf.compat.v1
DEVICES = ("cpu", "gpu")


@dataclass(frozen=True)
class Prediction:
    """One of the top-k classes of one image."""

    label: str
    index: int
    score: float


class Predictor:
    """Batched inference on ``[N, H, W, C]`` float32 arrays, by any path.

    ``kind`` is ``"restored"``, ``"frozen"``, ``"tflite"`` or ``"onnx"``; ``input_shape`` the model's input
    shape without the batch dimension; ``labels`` class names (or None); ``preprocessing`` the
    input convention (``"mobilenet"``: RGB ``x/127.5-1``); ``runtime`` what runs the model
    (e.g. the LiteRT interpreter and its version; TensorFlow and its version when not given).
    """

    def __init__(
        self,
        kind: str,
        run: Callable[[np.ndarray], np.ndarray],
        input_shape: Sequence[int | None],
        labels: Sequence[str] | None = None,
        preprocessing: str = "mobilenet",
        close: Callable[[], None] | None = None,
        runtime: str = "",
    ):
        self.kind = kind
        self.runtime = runtime or f"TensorFlow {tf.__version__}"
        self._run = run
        self.input_shape = tuple(input_shape)
        self.labels = list(labels) if labels is not None else None
        self.preprocessing = preprocessing
        self._close = close

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Run one batch as given (the benchmarked call)."""
        return self._run(x)

    def predict(self, x: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """Outputs for ``x`` in batches of ``batch_size``; checks the input shape first."""
        x = np.asarray(x, np.float32)
        want = self.input_shape
        if x.ndim != len(want) + 1 or any(
            w is not None and w != d for w, d in zip(want, x.shape[1:], strict=True)
        ):
            raise MismatchError(
                f"input batch has shape {x.shape}; the model expects [N, {', '.join(map(str, want))}]"
            )
        if not len(x):
            raise MismatchError(f"input batch of shape {x.shape} is empty")
        return np.concatenate(
            [self._run(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        )

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) images are resized to."""
        return image_size((None, *self.input_shape))

    def predict_images(
        self, paths: Sequence[str | os.PathLike], batch_size: int = 32
    ) -> np.ndarray:
        """Load, resize and preprocess image files, then :meth:`predict` them."""
        return self.predict(
            load_images(paths, self.image_size, preprocessing=self.preprocessing), batch_size
        )

    def top_k(self, scores: np.ndarray, k: int = 5) -> list[list[Prediction]]:
        """The ``k`` best classes per row of ``scores`` (highest first), with labels."""
        scores = np.asarray(scores).reshape(len(scores), -1)
        n = scores.shape[1]
        if self.labels is not None and len(self.labels) != n:
            raise MismatchError(f"{len(self.labels)} labels for a model with {n} outputs")
        labels = self.labels or [str(i) for i in range(n)]
        order = np.argsort(-scores, axis=1, kind="stable")[:, : max(1, min(k, n))]
        return [
            [Prediction(labels[i], int(i), float(row[i])) for i in idx]
            for row, idx in zip(scores, order, strict=True)
        ]

    def top_k_images(
        self, paths: Sequence[str | os.PathLike], k: int = 5
    ) -> list[list[Prediction]]:
        """:meth:`top_k` of :meth:`predict_images`."""
        return self.top_k(self.predict_images(paths), k)

    def close(self) -> None:
        if self._close is not None:
            self._close()

    def __enter__(self) -> Predictor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _session_config(device: str) -> v1.ConfigProto:
    if device not in DEVICES:
        raise unknown_name("device", device, DEVICES)
    config = v1.ConfigProto(allow_soft_placement=False)
    if device == "cpu":
        config.device_count["GPU"] = 0
    return config


def _session_predictor(kind, session, inp, out, labels, preprocessing, close) -> Predictor:
    """A Predictor running ``out`` from ``inp`` (an NHWC image input; unknown rank taken as one:
    some kernels abort the process on a batch of another rank instead of raising)."""
    if inp.shape.rank not in (None, 4):
        close()
        raise MismatchError(
            f"input {inp.name} has shape {inp.shape}; the predictor runs image batches [N, H, W, C]"
        )
    call = session.make_callable(out, feed_list=[inp])

    def run(x: np.ndarray) -> np.ndarray:
        try:
            return call(x)
        except tf.errors.OpError as e:  # e.g. an input without a static shape fed the wrong one
            raise MismatchError(
                f"the model failed on a batch of shape {x.shape}: {_op_error_line(e)}"
            ) from None

    shape = inp.shape.as_list()[1:] if inp.shape.rank is not None else [None, None, None]
    return Predictor(kind, run, shape, labels, preprocessing, close)


def _op_error_line(e: tf.errors.OpError) -> str:
    """The line of a session error that says what went wrong (not the stack around it)."""
    skip = ("Graph execution error", "Detected at node", "Node: ", "[[")
    lines = [line for line in e.message.splitlines() if line.strip()]
    found = [line for line in lines if not line.startswith((" ", "\t", *skip))]
    return found[0].strip() if found else first_line(e)


def from_checkpoint(
    ckpt: str | os.PathLike,
    output: str,
    input_name: str | None = None,
    device: str = "cpu",
    labels: Sequence[str] | None = None,
    preprocessing: str = "mobilenet",
    trust: bool = False,
) -> Predictor:
    """The restored path for a TF1 checkpoint: its meta graph and variables in a session."""
    restored = restore_meta_graph(ckpt, trust=trust, config=_session_config(device))
    session, graph = restored.session, restored.graph
    try:
        inp = single_placeholder(graph) if input_name is None else resolve_tensor(graph, input_name)
        out = resolve_tensor(graph, output)
    except BaseException:
        session.close()
        raise
    return _session_predictor("restored", session, inp, out, labels, preprocessing, session.close)


def from_keras(
    model,
    device: str = "cpu",
    labels: Sequence[str] | None = None,
    preprocessing: str = "mobilenet",
    trust: bool = False,
) -> Predictor:
    """The restored path for a Keras model (or ``.keras`` path): one compiled ``tf.function``.

    ``trust`` loads a ``.keras`` file outside Keras' safe mode (see :func:`load_keras_model`)."""
    if isinstance(model, str | os.PathLike):
        model = load_keras_model(model, trust=trust)
    if device not in DEVICES:
        raise unknown_name("device", device, DEVICES)
    spec = tf.TensorSpec([None, *model.inputs[0].shape[1:]], model.inputs[0].dtype)
    fn = tf.function(lambda x: model(x, training=False), input_signature=[spec], autograph=False)
    dev = "/CPU:0" if device == "cpu" else "/GPU:0"

    def run(x: np.ndarray) -> np.ndarray:
        with tf.device(dev):
            return fn(x).numpy()

    return Predictor("restored", run, spec.shape[1:].as_list(), labels, preprocessing)


def load_keras_model(path: str | os.PathLike, trust: bool = False):
    """Load a ``.keras`` model file in Keras' safe mode (no lambda deserialization).

    A file Keras cannot load raises :class:`~ftcore.errors.InvalidFileError`; one that safe mode
    refuses (Python code in a ``Lambda`` layer) :class:`~ftcore.errors.UnsafeContentError`
    unless ``trust=True``.
    """
    import keras

    path = check_file(path, KINDS["keras"])
    if not zipfile.is_zipfile(path):
        raise InvalidFileError(
            f"{path} is not a Keras model (.keras): not a zip archive, or truncated"
        )
    try:
        return keras.saving.load_model(path, safe_mode=not trust, compile=False)
    except Exception as e:  # noqa: BLE001 - Keras raises ValueError, KeyError, TypeError, OSError...
        message = first_line(e)
        if "safe_mode" in str(e):
            raise UnsafeContentError(
                f"{path} holds Python code (a Lambda layer) that Keras' safe mode refuses; "
                "refusing to load it (pass trust=True / --trust if you trust its author)"
            ) from None
        raise InvalidFileError(
            f"{path} is not a Keras model (.keras) Keras can load, or it is corrupt: "
            f"{type(e).__name__}: {message}"
        ) from None


def from_pb(
    source,
    input_name: str | None = None,
    output: str | None = None,
    device: str = "cpu",
    optimize_graph: bool = False,
    trust: bool = False,
    labels: Sequence[str] | None = None,
    preprocessing: str | None = None,
) -> Predictor:
    """The frozen path: a ``.pb`` path (safety-checked, sidecar read) or a GraphDef in a session.

    Names, labels and preprocessing default to the sidecar's. ``optimize_graph=True`` runs
    :func:`ftcore.graph.optimize.optimize` first (exports are already optimized).
    """
    sidecar = None
    if isinstance(source, str | os.PathLike):
        sidecar = read_sidecar(source)
        graph_def = load_graph_def(source, trust=trust)
    else:
        graph_def = source
    if sidecar is not None:
        input_name = input_name or sidecar.inputs[0].name
        output = output or sidecar.outputs[0].name
        labels = labels if labels is not None else sidecar.labels
        preprocessing = preprocessing or sidecar.preprocessing
    if output is None:
        raise MismatchError(
            f"name the output tensor of {source if sidecar is None else 'the graph'} (no sidecar)"
        )
    if optimize_graph:
        graph_def = optimize(graph_def, outputs=[output], inputs=[input_name] if input_name else [])
    where = str(source) if isinstance(source, str | os.PathLike) else "the graph"
    graph = import_graph(graph_def, source=where)
    inp = resolve_tensor(graph, input_name, where) if input_name else single_placeholder(graph)
    out = resolve_tensor(graph, output, where)
    session = v1.Session(graph=graph, config=_session_config(device))
    return _session_predictor(
        "frozen",
        session,
        inp,
        out,
        labels,
        preprocessing or "mobilenet",
        session.close,
    )


def from_tflite(
    path: str | os.PathLike,
    device: str = "cpu",
    trust: bool = False,
    labels: Sequence[str] | None = None,
    preprocessing: str | None = None,
    interpreter: str = "auto",
    num_threads: int | None = None,
) -> Predictor:
    """The tflite path: a ``.tflite`` export in the LiteRT interpreter (CPU), float or int8.

    Labels and preprocessing default to the sidecar's; ``interpreter`` (``"auto"``,
    ``"litert"``, ``"tensorflow"``) and ``num_threads`` as :class:`LiteRTModel`; the chosen
    interpreter is the predictor's ``runtime``. Models with custom (Flex) ops need ``trust``.
    """
    if device != "cpu":
        raise unknown_name("device for a .tflite model", device, ["cpu"])
    path = check_file(path, KINDS["tflite"])
    sidecar = read_sidecar(path)
    if sidecar is not None:
        labels = labels if labels is not None else sidecar.labels
        preprocessing = preprocessing or sidecar.preprocessing
    model = LiteRTModel(path.read_bytes(), num_threads, interpreter, trust, source=str(path))
    return Predictor(
        "tflite",
        lambda x: model(x)[0],
        model.input_shape,
        labels,
        preprocessing or "mobilenet",
        runtime=model.interpreter,
    )


def from_onnx(
    path: str | os.PathLike,
    device: str = "cpu",
    trust: bool = False,
    labels: Sequence[str] | None = None,
    preprocessing: str | None = None,
    num_threads: int | None = None,
) -> Predictor:
    """The onnx path: an ``.onnx`` export in onnxruntime (CPU; :mod:`ftcore.predict.onnx_runtime`).

    Labels and preprocessing default to the sidecar's (refused if it names another model);
    models with operators outside the standard ONNX domains or external data need ``trust``.
    """
    from ftcore.predict.onnx_runtime import OnnxModel

    if device != "cpu":
        raise unknown_name("device for an .onnx model", device, ["cpu"])
    path = check_file(path, KINDS["onnx"])
    sidecar = read_sidecar(path)
    if sidecar is not None:
        labels = labels if labels is not None else sidecar.labels
        preprocessing = preprocessing or sidecar.preprocessing
    model = OnnxModel(path.read_bytes(), num_threads, trust, source=str(path))
    run = lambda x: model(x)[0]  # noqa: E731
    shape, prep = model.input_shape, preprocessing or "mobilenet"
    return Predictor("onnx", run, shape, labels, prep, runtime=model.runtime)


class OptionError(FtcoreError, TypeError):
    """An option :func:`load` was given that the model's kind cannot use."""


#: model kind -> (the loader load() uses, how the model is named in errors)
_LOADERS: dict[str, tuple[Callable[..., Predictor], str]] = {
    "pb": (from_pb, "frozen .pb"),
    "tflite": (from_tflite, ".tflite"),
    "onnx": (from_onnx, ".onnx"),
    "keras": (from_keras, ".keras"),
    "checkpoint": (from_checkpoint, "checkpoint"),
}


def load_options(kind: str) -> tuple[str, ...]:
    """The options :func:`load` accepts for a model of ``kind`` (its loader's, after the model).

    >>> load_options("keras")
    ('device', 'labels', 'preprocessing', 'trust')
    """
    loader, _ = _LOADERS["checkpoint" if kind == "meta" else kind]
    return tuple(list(inspect.signature(loader).parameters)[1:])


def _check_options(kind: str, path: Path, options: dict) -> None:
    allowed = load_options(kind)
    for name in options:
        if name not in allowed:
            what = _LOADERS["checkpoint" if kind == "meta" else kind][1]
            known = {o for k in _LOADERS for o in load_options(k)}  # a misspelling gets a hint
            hint = [] if name in known else close_matches(name, allowed)
            raise OptionError(
                f"option {name!r} does not apply to a {what} model ({path}); "
                + (f"did you mean {', '.join(map(repr, hint))}? " if hint else "")
                + f"its options: {', '.join(allowed)}"
            )


def load(path: str | os.PathLike, output: str | None = None, **kwargs) -> Predictor:
    """A predictor for a ``.pb`` (frozen), ``.tflite``, ``.onnx``, ``.keras`` model or checkpoint
    dir/prefix (restored), by :func:`from_pb`, :func:`from_tflite`, :func:`from_onnx`,
    :func:`from_keras` or :func:`from_checkpoint`. The runtime is the file's: a ``.pb`` runs
    in TensorFlow, never silently swapped for an export of it (README: which export to pick).

    An option that model's loader does not take (``output`` for a ``.keras`` or ``.tflite``
    model, ``interpreter`` for a checkpoint, a misspelt name) raises :class:`OptionError`
    naming it, the model kind and the options that apply (:func:`load_options`).
    """
    path = Path(path)
    kind = model_kind(path)
    if kind == "h5":
        check_file(path, KINDS["h5"])
        raise MismatchError(
            f"cannot predict with {path}: a weights file holds no model; expected a .pb, "
            ".tflite, .onnx or .keras file or a checkpoint"
        )
    options = {**kwargs, **({} if output is None else {"output": output})}
    _check_options(kind, path, options)
    if kind == "pb":
        return from_pb(path, **options)
    if kind == "tflite":
        return from_tflite(path, **options)
    if kind == "onnx":
        return from_onnx(path, **options)
    if kind == "keras":
        return from_keras(path, **options)
    if output is None:
        raise MismatchError(f"name the output tensor to predict with checkpoint {path}")
    return from_checkpoint(path, **options)
