"""LiteRT (``.tflite``) export of Keras models, TF1 checkpoints and frozen ``.pb`` graphs.

Every source is first frozen exactly as for the ``.pb`` export (:mod:`ftcore.export.kit`), then
converted by TensorFlow's converter. The converted model runs in the LiteRT interpreter
(:mod:`ftcore.predict.litert`) and must reproduce the restored model (the Keras model, the
checkpoint's session, or the ``.pb`` in TensorFlow) on a probe batch *and* on real photos
(the shipped ones by default) within the ``.pb`` export's tolerance; otherwise
:class:`~ftcore.errors.MismatchError` with the numbers, and nothing is written. The
``.tflite`` and its sidecar (``model.tflite.json``, ``format: "tflite"``) are written atomically.

Optional full-integer quantization (:class:`Int8`: int8 weights, activations, input and output)
is calibrated on real images of the target task and written only if its top-1 agreement with
the float model on held-out images reaches ``min_agreement`` (default :data:`MIN_AGREEMENT`).

    >>> import tempfile, keras
    >>> model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(4, 3),
    ...                           keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
    >>> sc = export_keras(model, Path(tempfile.mkdtemp()) / "model.tflite")
    >>> sc.format, sc.check["tflite_max_abs_diff"] < 1e-4, sc.check["photos"][:1]
    ('tflite', True, ['cameraman_gray.png'])

For int8, pass ``int8=Int8(task_images, held_out_images)`` (or ``Int8.from_folder(dir)``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import graph_pb2

from ftcore.errors import FtcoreError, MismatchError, MissingFileError
from ftcore.export import kit
from ftcore.graph import resolve_checkpoint
from ftcore.predict import LiteRTModel, image_size, load_images
from ftcore.sidecar import Sidecar, TensorInfo, write_export

#: Refuse an int8 model whose top-1 agreement with the float model is below this. Measured
#: (benchmarks/int8_table.py) on the fine-tuned fixture models, Keras MobileNet 0.25 and slim
#: MobileNetV2 0.35, seeds 0-2, calibrated on the 50 target-task training images, agreement on
#: the 448 held-out ones: 0.952 +/- 0.011 (sd), lowest 0.940; the pretrained fixture on its own
#: task: 0.994. Calibrated in the wrong input range (0..255 or [0, 1] for a [-1, 1] model) they
#: fell to 0.25-0.41. 0.9 sits 4.7 sd below the mean and 0.04 below the lowest healthy run
#: (one held-out estimate's own sd is ~0.01 at n=448): a healthy quantization passes, a
#: miscalibrated one does not. Calibration on uniform noise is not always caught (0.94 and 0.60
#: on two models): calibrate on real images of the task.
MIN_AGREEMENT = 0.9


class QuantizationError(MismatchError):
    """An int8 model that agrees too little with its float model: refused, nothing written."""


#: Image files ``Int8.from_folder`` reads.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")

Images = np.ndarray | Sequence[str | os.PathLike]


@dataclasses.dataclass(frozen=True)
class Int8:
    """Full-integer post-training quantization settings.

    ``calibration``: real images of the target task (a preprocessed batch, or image files
    loaded with the model's input size and preprocessing) for the activation ranges;
    ``held_out``: other images of the task for the top-1 agreement check (not used to
    calibrate); ``min_agreement``: the refusal threshold.
    """

    calibration: Images
    held_out: Images
    min_agreement: float = MIN_AGREEMENT

    def __post_init__(self) -> None:  # a NaN threshold would pass every agreement
        if not -math.inf < self.min_agreement < math.inf:
            raise FtcoreError(
                f"int8 min_agreement must be a finite number (an agreement in [0, 1]), "
                f"got {self.min_agreement!r}"
            )

    @classmethod
    def from_folder(cls, folder: str | os.PathLike, min_agreement: float = MIN_AGREEMENT) -> Int8:
        """The images in ``folder`` (sorted by name), every fourth held out for the agreement."""
        folder = Path(folder)
        if not folder.is_dir():
            raise MissingFileError(f"no such folder of int8 calibration images: {folder}")
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if len(paths) < 4:
            raise FtcoreError(
                f"int8 calibration needs at least 4 images in {folder} (1 in 4 is held out for "
                f"the agreement check); found {len(paths)} with suffixes {', '.join(IMAGE_SUFFIXES)}"
            )
        held = set(paths[3::4])
        return cls([p for p in paths if p not in held], sorted(held), min_agreement)


def _batch(images: Images, input_shape, preprocessing: str) -> np.ndarray:
    if isinstance(images, np.ndarray):
        return images.astype(np.float32)
    return load_images(images, image_size(input_shape), preprocessing=preprocessing)


def _concrete_function(
    graph_def: graph_pb2.GraphDef, inputs: Sequence[str], outputs: Sequence[str]
):
    """``graph_def`` as a pruned TF2 concrete function (what the converter takes)."""

    def import_graph():
        tf.compat.v1.import_graph_def(graph_def, name="")

    wrapped = tf.compat.v1.wrap_function(import_graph, [])
    element = wrapped.graph.as_graph_element
    return wrapped.prune([element(n) for n in inputs], [element(n) for n in outputs]), wrapped


def convert(
    graph_def: graph_pb2.GraphDef,
    inputs: Sequence[str],
    outputs: Sequence[str],
    calibration: np.ndarray | None = None,
) -> bytes:
    """Convert a frozen GraphDef to a ``.tflite`` flatbuffer: float, or full-integer int8
    (input and output too) when ``calibration`` images are given."""
    fn, wrapped = _concrete_function(graph_def, inputs, outputs)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn], wrapped)
    if calibration is not None:
        calibration = np.asarray(calibration, np.float32)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([x[None]] for x in calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    with warnings.catch_warnings():  # the input's range comes from the calibration images
        warnings.filterwarnings("ignore", "Statistics for quantized inputs", UserWarning)
        return converter.convert()


def _top1_agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a.reshape(len(a), -1).argmax(1) == b.reshape(len(b), -1).argmax(1)))


def _quantize(graph_def, names, shape, preprocessing, float_model, int8: Int8, options):
    """(int8 flatbuffer, its check figures), or :class:`QuantizationError` with the numbers."""
    calibration = _batch(int8.calibration, shape, preprocessing)
    held_out = _batch(int8.held_out, shape, preprocessing)
    content = convert(graph_def, *names, calibration=calibration)
    model = LiteRTModel(content, source="int8 model", **options)
    agreement = _top1_agreement(model(held_out)[0], float_model(held_out)[0])
    if agreement < int8.min_agreement:
        raise QuantizationError(
            f"int8 model: top-1 agreement with the float model {agreement:.3f} on "
            f"{len(held_out)} held-out images is below the threshold {int8.min_agreement:g} "
            f"(calibrated on {len(calibration)} images); nothing written"
        )
    scale, zero = model.input_quantization
    return content, {
        "calibration_images": len(calibration),
        "held_out_images": len(held_out),
        "top1_agreement": agreement,
        "min_agreement": int8.min_agreement,
        "input_scale": scale,
        "input_zero_point": zero,
    }


def export_graph(
    frozen: kit.FrozenModel,
    output_path: str | os.PathLike,
    *,
    int8: Int8 | None = None,
    preprocessing: str = "mobilenet",
    labels: Sequence[str] | None = None,
    source: str = "",
    check: kit.SelfCheck | None = None,
    interpreter: str = "auto",
    num_threads: int | None = None,
) -> Sidecar:
    """Convert ``frozen``, self-check against its reference (on the probe batch and the
    photos, see :class:`~ftcore.export.kit.SelfCheck`), write ``.tflite`` + sidecar.

    ``interpreter`` and ``num_threads`` as :class:`~ftcore.predict.litert.LiteRTModel`.
    """
    kit.check_single_input(frozen, preprocessing)
    check = check or kit.SelfCheck()
    graph_def, inputs, outputs, reference = (
        frozen.graph_def,
        frozen.inputs,
        frozen.outputs,
        frozen.reference,
    )
    atol, rtol = check.atol, check.rtol
    names_in, names_out = [inputs[0].name], [t.name for t in outputs]
    content = convert(graph_def, names_in, names_out)
    options = {"interpreter": interpreter, "num_threads": num_threads}
    model = LiteRTModel(content, source="converted model", **options)
    probe = check.probe_for(inputs[0].shape)
    real, photo_figures = check.photos_for(inputs[0].shape, preprocessing)
    figures = {"probe_shape": list(probe.shape), **photo_figures, "atol": atol, "rtol": rtol}
    worst = kit.compare_outputs(
        reference(probe), model(probe), "tflite model (probe batch)", atol, rtol
    )
    if real is not None:
        worst = max(
            worst,
            kit.compare_outputs(reference(real), model(real), "tflite model (photos)", atol, rtol),
        )
    figures["tflite_max_abs_diff"] = worst
    figures["interpreter"] = model.interpreter
    dtype = "float32"
    if int8 is not None:
        content, figures["int8"] = _quantize(
            graph_def, (names_in, names_out), inputs[0].shape, preprocessing, model, int8, options
        )
        dtype = "int8"
    sidecar = Sidecar(  # tensor names as the interpreter sees them
        inputs=[TensorInfo(model.input_name, inputs[0].shape, dtype)],
        outputs=[
            TensorInfo(name, t.shape, dtype)
            for name, t in zip(model.output_names, outputs, strict=True)
        ],
        preprocessing=preprocessing,
        labels=list(labels) if labels is not None else None,
        source=source,
        check=figures,
        format="tflite",
    )
    return write_export(output_path, content, sidecar)


def export_keras(model, output_path: str | os.PathLike, **kwargs) -> Sidecar:
    """A Keras model to ``.tflite``, checked against the model itself; see :func:`export_graph`."""
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
    """A TF1 checkpoint (with ``.meta``) to ``.tflite``, checked against the restored session."""
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
    """A frozen ``.pb`` to ``.tflite``, checked against the graph run by TensorFlow.

    Names, preprocessing and labels default to the ``.pb``'s sidecar.
    """
    with kit.pb_export(pb_path, outputs, input_name, trust, kwargs) as frozen:
        return export_graph(frozen, output_path, **kwargs)
