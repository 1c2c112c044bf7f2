"""The benchmarked networks: MobileNetV2 1.0 at 224x224 as a TF1 slim checkpoint and as a
Keras model, each with its optimized frozen export, and the predictors for each path: frozen,
restored, tflite (the LiteRT export, in the LiteRT interpreter), tflite-int8 (its full-integer
int8 export) and (optional: tf2onnx + onnxruntime installed) onnxruntime on the same frozen graph,
in float and (onnxruntime-int8) as onnxruntime's own static int8 quantization, calibrated on the
same images as tflite-int8.

The networks are randomly initialised: weights do not change the amount of arithmetic, so
throughput equals that of ImageNet weights. BN statistics are randomised so BN folding works
on non-trivial values (with all-zero offsets grappler would drop the BiasAdds instead).

Every path but the restored one is checked against the restored model before it is timed
(:func:`check_against_restored`, on real photos and random images). Random-weight softmax
outputs barely depend on the input, so the tflite and onnxruntime conversions are also checked
against TF on every Relu6 activation of the frozen graph, which do; the int8 paths by
correlation with TF on every Relu6 activation and on the logits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

IMAGE_SIZE = 224
NUM_CLASSES = 1001  # slim's ImageNet head (background class + 1000)
SLIM_OUTPUT = "MobilenetV2/Predictions/Reshape_1"
MODELS = ("slim", "keras")
CPU_ONLY = ("tflite", "tflite-int8", "onnxruntime", "onnxruntime-int8")
# onnxruntime vs TF on the probe batch: max |difference| <= ONNX_RTOL * max |TF value|, per tensor
# (measured: <= 1e-6 relative; an early activation differs by ~5e-3 between two images).
ONNX_RTOL = 1e-4
# int8 LiteRT vs TF: correlation on every Relu6 activation of a probe batch (measured on the
# Keras MobileNetV2 calibrated on photos and digits: >= 0.9999 on all 35; max |diff| up to 17%
# of the tensor's max, on the first conv, so an elementwise tolerance says little).
INT8_MIN_CORRELATION = 0.99
# onnxruntime's static int8 quantization (onnxruntime.quantization.quantize_static): QDQ format,
# per-channel weights, MinMax calibration; activations int8 ("S8S8 with QDQ is the default
# setting and balances performance and accuracy. It should be the first choice", ORT docs) or
# uint8 ("U8S8", ORT's other x86 choice).
ORT_INT8_ACTIVATIONS = ("int8", "uint8")


def onnx_missing() -> str | None:
    """Why the onnxruntime comparison cannot run here, or None when it can."""
    import importlib.util

    missing = [m for m in ("onnxruntime", "tf2onnx") if importlib.util.find_spec(m) is None]
    if not missing:
        return None
    return f"optional onnxruntime comparison: {' and '.join(missing)} not installed"


def image_batch(batch: int, seed: int = 0) -> np.ndarray:
    """A [batch, 224, 224, 3] float32 batch in the MobileNet input range [-1, 1]."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (batch, IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.float32)


def _randomise_bn(values: dict[str, np.ndarray], rng) -> dict[str, np.ndarray]:
    return {
        name: rng.uniform(0.5, 1.5, v.shape).astype(v.dtype)
        if "variance" in name or "gamma" in name
        else rng.uniform(-0.2, 0.2, v.shape).astype(v.dtype)
        for name, v in values.items()
    }


def build_slim(root: Path) -> tuple[Path, Path]:
    """Save the slim MobileNetV2 (depth 1.0) checkpoint under ``root``; export it. (ckpt dir, .pb)"""
    import tensorflow as tf

    from ftcore.export.pb import export_checkpoint
    from ftcore.graph.nets.slim_mobilenet_v2 import mobilenet_v2

    v1 = tf.compat.v1
    g = tf.Graph()
    with g.as_default():
        v1.set_random_seed(0)
        x = v1.placeholder(tf.float32, [None, IMAGE_SIZE, IMAGE_SIZE, 3], name="input")
        mobilenet_v2(x, num_classes=NUM_CLASSES, depth_multiplier=1.0)
        bn = [v for v in v1.global_variables() if "BatchNorm" in v.name]
        saver = v1.train.Saver()
        with v1.Session(graph=g) as sess:
            sess.run(v1.global_variables_initializer())
            values = dict(zip([v.name for v in bn], sess.run(bn), strict=True))
            new = _randomise_bn(values, np.random.default_rng(0))
            sess.run([v.assign(new[v.name]) for v in bn])
            saver.save(sess, str(root / "model.ckpt"))
    pb = root / "frozen.pb"
    export_checkpoint(root, pb, outputs=[SLIM_OUTPUT])
    return root, pb


def build_keras(root: Path):
    """Keras MobileNetV2 (alpha 1.0, weights=None) and its export under ``root``. (model, .pb)"""
    import keras

    from ftcore.export.pb import export_keras

    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3), weights=None)
    rng = np.random.default_rng(0)
    names = ["gamma", "beta", "moving_mean", "moving_variance"]
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            new = _randomise_bn(dict(zip(names, layer.get_weights(), strict=True)), rng)
            layer.set_weights([new[n] for n in names])
    pb = root / "frozen.pb"
    export_keras(model, pb)
    return model, pb


def _onnx_model(graph_def, input_name: str, output_names: list[str]) -> bytes:
    import tf2onnx

    model_proto, _ = tf2onnx.convert.from_graph_def(
        graph_def, input_names=[input_name], output_names=output_names
    )
    return model_proto.SerializeToString()


def _relu6_names(graph_def) -> list[str]:
    return [f"{n.name}:0" for n in graph_def.node if n.op == "Relu6"]


def _tf_probe(graph_def, input_name: str, names: list[str]):
    """(the probe batch, TF's values of ``names`` on it)."""
    import tensorflow as tf

    x = image_batch(2, seed=1)
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        return x, sess.run(names, {input_name: x})


def _check_matches_tf(what: str, run, graph_def, input_name: str, output_name: str) -> None:
    """Fail unless ``run(names, x)`` computes what TF computes from ``graph_def`` on a probe batch.

    Compares the output and every Relu6 activation: the random-init networks' outputs barely
    depend on the input, the early activations do, so a conversion error anywhere shows.
    """
    names = [output_name] + _relu6_names(graph_def)
    x, want = _tf_probe(graph_def, input_name, names)
    got = run(names, x)
    bad = [
        f"{name}: max |diff| {np.abs(w - g).max():.3g} > {ONNX_RTOL * np.abs(w).max():.3g}"
        for name, w, g in zip(names, want, got, strict=True)
        if w.shape != g.shape or np.abs(w - g).max() > ONNX_RTOL * np.abs(w).max()
    ]
    if bad:
        raise AssertionError(
            f"{what} disagrees with TF on {len(bad)} of {len(names)} tensors: " + "; ".join(bad[:5])
        )


def _onnx_tensors(graph_def, input_name: str):
    """``run(names, x)``: onnxruntime on ``graph_def`` converted with ``names`` as outputs."""
    import onnxruntime

    def run(names, x):
        session = onnxruntime.InferenceSession(
            _onnx_model(graph_def, input_name, names), providers=["CPUExecutionProvider"]
        )
        return session.run(names, {input_name: x})

    return run


def calibration_images() -> np.ndarray:
    """Real images at 224 in [-1, 1] for int8 calibration: the shipped photos and 40 digits."""
    from ftcore.predict.images import load_images
    from ftcore_fixtures import photo_paths
    from ftcore_fixtures.digits import target_task

    photos = load_images(list(photo_paths().values()), IMAGE_SIZE)
    return np.concatenate([photos, target_task(size=IMAGE_SIZE, per_class=4).x_train])


def _tflite_tensors(graph_def, input_name: str, calibration: np.ndarray | None = None):
    """``run(names, x)``: LiteRT on ``graph_def`` converted with ``names`` as outputs
    (full-integer int8 when ``calibration`` images are given)."""
    from ftcore.export.litert import convert
    from ftcore.predict.litert import LiteRTModel

    def run(names, x):
        model = LiteRTModel(convert(graph_def, [input_name], names, calibration))
        by_name = dict(zip(model.output_names, model(x), strict=True))
        return [by_name.get(n.split(":")[0], by_name.get(n)) for n in names]

    return run


def onnxruntime_predictor(pb: Path):
    """onnxruntime (CPU, default session options) on the frozen ``pb``, converted by tf2onnx.

    Checked against TF on a probe batch first (AssertionError with the numbers otherwise).
    """
    import onnxruntime

    from ftcore.graph.safety import load_graph_def
    from ftcore.predict.predictor import Predictor
    from ftcore.sidecar import read_sidecar

    sidecar = read_sidecar(pb)
    graph_def = load_graph_def(pb)
    inp, out = sidecar.inputs[0].name, sidecar.outputs[0].name
    _check_matches_tf("onnxruntime", _onnx_tensors(graph_def, inp), graph_def, inp, out)
    session = onnxruntime.InferenceSession(
        _onnx_model(graph_def, inp, [out]), providers=["CPUExecutionProvider"]
    )
    return Predictor(
        "onnxruntime",
        lambda x: session.run([out], {inp: x})[0],
        sidecar.inputs[0].shape[1:],
        sidecar.labels,
        sidecar.preprocessing,
        runtime=f"onnxruntime {onnxruntime.__version__}",
    )


def tflite_predictor(model: str, built):
    """The LiteRT export of ``built`` (written once beside its .pb; the export checks itself
    against the restored model on a probe batch and the shipped photos) in the interpreter
    ``auto`` picks (named in the predictor's ``runtime``). Its conversion of the frozen graph
    is checked against TF on every Relu6 activation first, like onnxruntime's."""
    from ftcore.graph.safety import load_graph_def
    from ftcore.sidecar import read_sidecar

    pb = built[1]
    sidecar, graph_def = read_sidecar(pb), load_graph_def(pb)
    inp, out = sidecar.inputs[0].name, sidecar.outputs[0].name
    _check_matches_tf("LiteRT", _tflite_tensors(graph_def, inp), graph_def, inp, out)
    return _litert_export(model, built, "model.tflite")


def _litert_export(model: str, built, filename: str, **kwargs):
    """The LiteRT export of ``built`` (``filename`` beside its .pb, written once; ``kwargs``
    to ``export_keras``/``export_checkpoint``), loaded as a predictor."""
    from ftcore.export import litert
    from ftcore.predict import predictor

    source, pb = built
    path = Path(pb).with_name(filename)
    if not path.exists():
        if model == "slim":
            litert.export_checkpoint(source, path, outputs=[SLIM_OUTPUT], **kwargs)
        else:
            litert.export_keras(source, path, **kwargs)
    return predictor.from_tflite(path)


def _logits_names(graph_def) -> list[str]:
    """The input of each Softmax (the logits), so the int8 checks see the classifier too."""
    return [
        n.input[0] if ":" in n.input[0] else f"{n.input[0]}:0"
        for n in graph_def.node
        if n.op == "Softmax"
    ]


def _check_int8_tracks_tf(run, graph_def, input_name: str, what: str = "int8 LiteRT") -> None:
    """Fail unless the int8 ``run(names, x)`` correlates with TF on every Relu6 activation and
    on the logits (the input of the Softmax, when there is one).

    The random-weight networks' softmax is flat (one int8 step covers it), so the output says
    nothing; the activations and logits do, and quantization error shows as lost correlation.
    """
    names = _relu6_names(graph_def) + _logits_names(graph_def)
    x, want = _tf_probe(graph_def, input_name, names)
    corr = [
        (np.corrcoef(w.ravel(), g.ravel())[0, 1], n)
        for n, w, g in zip(names, want, run(names, x), strict=True)
    ]
    worst, name = min(corr)
    if not worst >= INT8_MIN_CORRELATION:
        raise AssertionError(
            f"{what}: correlation with TF {worst:.4f} < {INT8_MIN_CORRELATION} on {name}"
        )


def tflite_int8_predictor(model: str, built):
    """The full-integer int8 LiteRT export of ``built`` (``model-int8.tflite`` beside its .pb),
    calibrated on :func:`calibration_images`. Random weights: top-1 agreement with float means
    nothing, so the export's threshold is 0 and its conversion is checked against TF's
    activations instead (:data:`INT8_MIN_CORRELATION`). Its accuracy cost on fine-tuned models
    is ``int8_table.py``'s."""
    from ftcore.export import litert
    from ftcore.graph.safety import load_graph_def
    from ftcore.sidecar import read_sidecar

    pb = built[1]
    sidecar, graph_def = read_sidecar(pb), load_graph_def(pb)
    inp = sidecar.inputs[0].name
    calibration = calibration_images()
    _check_int8_tracks_tf(_tflite_tensors(graph_def, inp, calibration), graph_def, inp)
    int8 = litert.Int8(calibration, calibration, min_agreement=0.0)
    return _litert_export(model, built, "model-int8.tflite", int8=int8)


def _ort_int8_model(
    graph_def, input_name: str, output_names: list[str], calibration, activations: str = "int8"
) -> bytes:
    """onnxruntime's static int8 quantization of ``graph_def``'s ONNX conversion (QDQ,
    per-channel, MinMax) calibrated on ``calibration``, one image per calibration batch."""
    import tempfile

    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._feeds = iter(
                {input_name: calibration[i : i + 1]} for i in range(len(calibration))
            )

        def get_next(self):
            return next(self._feeds, None)

    act = {"int8": QuantType.QInt8, "uint8": QuantType.QUInt8}[activations]
    with tempfile.TemporaryDirectory(prefix="ort_int8_") as tmp:
        src, dst = Path(tmp) / "float.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(_onnx_model(graph_def, input_name, output_names))
        quantize_static(
            str(src),
            str(dst),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=act,
            weight_type=QuantType.QInt8,
        )
        return dst.read_bytes()


def _ort_int8_tensors(graph_def, input_name: str, calibration, activations: str = "int8"):
    """``run(names, x)``: onnxruntime on the int8 quantization of ``graph_def`` with ``names``
    as outputs."""
    import onnxruntime

    def run(names, x):
        model = _ort_int8_model(graph_def, input_name, names, calibration, activations)
        session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
        return session.run(names, {input_name: x})

    return run


def _check_quantized(model: bytes, what: str) -> None:
    """Fail unless every Conv and MatMul of the ONNX ``model`` reads dequantized int8 weights."""
    import onnx

    graph = onnx.load_from_string(model).graph
    made_by = {out: n.op_type for n in graph.node for out in n.output}
    compute = [n for n in graph.node if n.op_type in ("Conv", "MatMul")]
    float_ops = [n.name for n in compute if made_by.get(n.input[1]) != "DequantizeLinear"]
    if not compute or float_ops:
        raise AssertionError(
            f"{what}: {len(float_ops)} of {len(compute)} Conv/MatMul nodes are not quantized: "
            f"{float_ops[:5]}"
        )


def onnxruntime_int8_predictor(pb: Path, activations: str = "int8"):
    """onnxruntime (CPU, default session options) on its own static int8 quantization of the
    frozen ``pb`` (:func:`_ort_int8_model`), calibrated on :func:`calibration_images`, the
    images ``tflite-int8`` is calibrated on.

    Checked like ``tflite-int8`` (random weights: top-1 agreement means nothing): the same
    quantization with every Relu6 activation and the logits as outputs must correlate with TF
    (:data:`INT8_MIN_CORRELATION`), and every Conv/MatMul of the timed model must be quantized.
    """
    import onnxruntime

    from ftcore.export import read_sidecar
    from ftcore.graph.safety import load_graph_def
    from ftcore.predict.predictor import Predictor

    sidecar = read_sidecar(pb)
    graph_def = load_graph_def(pb)
    inp, out = sidecar.inputs[0].name, sidecar.outputs[0].name
    calibration = calibration_images()
    what = f"onnxruntime int8 ({activations} activations)"
    _check_int8_tracks_tf(
        _ort_int8_tensors(graph_def, inp, calibration, activations), graph_def, inp, what
    )
    model = _ort_int8_model(graph_def, inp, [out], calibration, activations)
    _check_quantized(model, what)
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    return Predictor(
        "onnxruntime-int8",
        lambda x: session.run([out], {inp: x})[0],
        sidecar.inputs[0].shape[1:],
        sidecar.labels,
        sidecar.preprocessing,
        runtime=f"onnxruntime {onnxruntime.__version__} (static int8, QDQ, {activations} activations)",
    )


def check_against_restored(name: str, candidate, restored) -> None:
    """Fail unless ``candidate`` reproduces ``restored`` on the shipped photos and two random
    images: every output within ``ONNX_RTOL * max|restored|``."""
    from ftcore.predict.images import load_images
    from ftcore_fixtures import photo_paths

    photos = load_images(list(photo_paths().values()), IMAGE_SIZE)
    x = np.concatenate([photos, image_batch(2, seed=5)])
    want, got = restored(x), candidate(x)
    if got.shape != want.shape or not np.abs(got - want).max() <= ONNX_RTOL * np.abs(want).max():
        raise AssertionError(
            f"{name} disagrees with the restored model on {len(x)} images: shapes {got.shape} "
            f"vs {want.shape}, max |diff| {np.abs(got - want).max():.3g} > "
            f"{ONNX_RTOL * np.abs(want).max():.3g}"
        )


def make_predictor(model: str, path: str, device: str, built, restored=None):
    """The ``path`` ("frozen", "restored", "tflite", "tflite-int8", "onnxruntime" or
    "onnxruntime-int8"; the last four CPU only) predictor of ``model`` from ``built`` (a
    build_* result), checked against ``restored`` (that model's restored predictor; required
    for every float path) before it is returned; the int8 paths are checked against TF's
    activations instead (see :func:`tflite_int8_predictor`, :func:`onnxruntime_int8_predictor`)."""
    from ftcore.predict import predictor

    source, pb = built
    if path == "restored":
        if model == "slim":
            return predictor.from_checkpoint(source, SLIM_OUTPUT, device=device)
        return predictor.from_keras(source, device=device)
    if path in CPU_ONLY and device != "cpu":
        raise ValueError(f"the {path} comparison runs on CPU only, not {device}")
    if path == "tflite-int8":
        return tflite_int8_predictor(model, built)
    if path == "onnxruntime-int8":
        return onnxruntime_int8_predictor(pb)
    if path == "onnxruntime":
        made = onnxruntime_predictor(pb)
    elif path == "tflite":
        made = tflite_predictor(model, built)
    else:
        made = predictor.from_pb(pb, device=device)
    check_against_restored(f"{model} {path}", made, restored)
    return made
