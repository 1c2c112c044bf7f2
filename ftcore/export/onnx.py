"""ONNX (``.onnx``) export of Keras models, TF1 checkpoints and frozen ``.pb`` graphs.

Every source is first frozen exactly as for the ``.pb`` export (:mod:`ftcore.export.kit`), then
converted by tf2onnx (opset :data:`OPSET`). The converted model runs in onnxruntime
(:mod:`ftcore.predict.onnx_runtime`) and must reproduce the restored model (the Keras model,
the checkpoint's session, or the ``.pb`` in TensorFlow) on a probe batch *and* on real photos
(the shipped ones by default) within the ``.pb`` export's tolerance; otherwise
:class:`~ftcore.errors.MismatchError` with the numbers, and nothing is written. A conversion
using operators outside the standard ONNX domains is refused too. The ``.onnx`` and its sidecar
(``model.onnx.json``, ``format: "onnx"``, the model's sha256) are written atomically.
Needs the ``onnx`` extra (tf2onnx, onnx, onnxruntime).

    >>> import pathlib, tempfile, keras
    >>> model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(4, 3),
    ...                           keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
    >>> sc = export_keras(model, pathlib.Path(tempfile.mkdtemp()) / "model.onnx")
    >>> sc.format, sc.check["onnx_max_abs_diff"] < 1e-4, sc.check["photos"][:1]
    ('onnx', True, ['cameraman_gray.png'])
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Sequence

import tensorflow as tf
from tensorflow.core.framework import graph_pb2

from ftcore.errors import FtcoreError
from ftcore.export import kit
from ftcore.graph import resolve_checkpoint
from ftcore.predict import OnnxModel
from ftcore.sidecar import Sidecar, TensorInfo, write_export

#: The ONNX opset the export targets (tf2onnx 1.17 supports up to 18; onnxruntime >= 1.14 all).
OPSET = 17


_LOG_LEVEL = "TF_CPP_MIN_LOG_LEVEL"


@contextlib.contextmanager
def _quiet_tensorflow():
    """tf2onnx calls deprecated TF1 freezing helpers, which log a warning each (not ours), and
    sets ``TF_CPP_MIN_LOG_LEVEL`` when imported: both are put back as they were."""
    logger, env = tf.get_logger(), os.environ.get(_LOG_LEVEL)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
        if env is None:
            os.environ.pop(_LOG_LEVEL, None)
        else:
            os.environ[_LOG_LEVEL] = env


def convert(graph_def: graph_pb2.GraphDef, inputs: Sequence[str], outputs: Sequence[str]) -> bytes:
    """Convert a frozen GraphDef to a serialized ONNX model (opset :data:`OPSET`), tensor names
    kept (``input:0``)."""
    with _quiet_tensorflow():
        try:
            import tf2onnx.convert
        except ImportError as e:
            raise FtcoreError(
                f"the ONNX export needs tf2onnx ({e}); pip install 'ftcore[onnx]'"
            ) from None
        model, _ = tf2onnx.convert.from_graph_def(
            graph_def, input_names=list(inputs), output_names=list(outputs), opset=OPSET
        )
    return model.SerializeToString()


def export_graph(
    frozen: kit.FrozenModel,
    output_path: str | os.PathLike,
    *,
    preprocessing: str = "mobilenet",
    labels: Sequence[str] | None = None,
    source: str = "",
    check: kit.SelfCheck | None = None,
    num_threads: int | None = None,
) -> Sidecar:
    """Convert ``frozen``, self-check against its reference (on the probe batch and the
    photos, see :class:`~ftcore.export.kit.SelfCheck`), write ``.onnx`` + sidecar.

    ``num_threads`` as :class:`~ftcore.predict.onnx_runtime.OnnxModel` (for the check only).
    """
    kit.check_single_input(frozen, preprocessing)
    check = check or kit.SelfCheck()
    inputs, outputs, reference = frozen.inputs, frozen.outputs, frozen.reference
    atol, rtol = check.atol, check.rtol
    content = convert(frozen.graph_def, [inputs[0].name], [t.name for t in outputs])
    model = OnnxModel(content, num_threads, source="converted model")  # refuses foreign ops
    probe = check.probe_for(inputs[0].shape)
    real, photo_figures = check.photos_for(inputs[0].shape, preprocessing)
    figures = {"probe_shape": list(probe.shape), **photo_figures, "atol": atol, "rtol": rtol}
    worst = kit.compare_outputs(
        reference(probe), model(probe), "onnx model (probe batch)", atol, rtol
    )
    if real is not None:
        worst = max(
            worst,
            kit.compare_outputs(reference(real), model(real), "onnx model (photos)", atol, rtol),
        )
    figures.update(onnx_max_abs_diff=worst, runtime=model.runtime, opset=OPSET)
    sidecar = Sidecar(  # tensor names as onnxruntime sees them
        inputs=[TensorInfo(model.input_name, inputs[0].shape, "float32")],
        outputs=[
            TensorInfo(name, t.shape, "float32")
            for name, t in zip(model.output_names, outputs, strict=True)
        ],
        preprocessing=preprocessing,
        labels=list(labels) if labels is not None else None,
        source=source,
        check=figures,
        format="onnx",
    )
    return write_export(output_path, content, sidecar)


def export_keras(model, output_path: str | os.PathLike, **kwargs) -> Sidecar:
    """A Keras model to ``.onnx``, checked against the model itself; see :func:`export_graph`."""
    kwargs.setdefault("source", f"keras model {model.name}")
    return export_graph(kit.keras_export(model), output_path, **kwargs)


def export_checkpoint(
    ckpt: str | os.PathLike,
    output_path: str | os.PathLike,
    outputs: Sequence[str],
    input_name: str | None = None,
    trust: bool = False,
    **kwargs,
) -> Sidecar:
    """A TF1 checkpoint (with ``.meta``) to ``.onnx``, checked against the restored session."""
    with kit.checkpoint_export(ckpt, outputs, input_name, trust) as frozen:
        kwargs.setdefault("source", f"checkpoint {resolve_checkpoint(ckpt)}")
        return export_graph(frozen, output_path, **kwargs)


def export_pb(
    pb_path: str | os.PathLike,
    output_path: str | os.PathLike,
    outputs: Sequence[str] | None = None,
    input_name: str | None = None,
    trust: bool = False,
    **kwargs,
) -> Sidecar:
    """A frozen ``.pb`` to ``.onnx``, checked against the graph run by TensorFlow.

    Names, preprocessing and labels default to the ``.pb``'s sidecar.
    """
    with kit.pb_export(pb_path, outputs, input_name, trust, kwargs) as frozen:
        return export_graph(frozen, output_path, **kwargs)
