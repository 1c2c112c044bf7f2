"""The benchmarked networks: MobileNetV2 1.0 at 224x224 as a TF1 slim checkpoint and as a
Keras model, each with its optimized frozen export, and the predictors for each path: frozen,
restored, and (optional: tf2onnx + onnxruntime installed) onnxruntime on the same frozen graph.

The networks are randomly initialised: weights do not change the amount of arithmetic, so
throughput equals that of ImageNet weights. BN statistics are randomised so BN folding works
on non-trivial values (with all-zero offsets grappler would drop the BiasAdds instead).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

IMAGE_SIZE = 224
NUM_CLASSES = 1001  # slim's ImageNet head (background class + 1000)
SLIM_OUTPUT = "MobilenetV2/Predictions/Reshape_1"
MODELS = ("slim", "keras")
# onnxruntime vs TF on the probe batch: max |difference| <= ONNX_RTOL * max |TF value|, per tensor
# (measured: <= 1e-6 relative; an early activation differs by ~5e-3 between two images).
ONNX_RTOL = 1e-4


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
        name: rng.uniform(0.5, 1.5, v.shape).astype(v.dtype) if "variance" in name or "gamma" in name
        else rng.uniform(-0.2, 0.2, v.shape).astype(v.dtype)
        for name, v in values.items()
    }  # fmt: skip


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


def _check_onnx_matches_tf(graph_def, input_name: str, output_name: str) -> None:
    """Fail unless onnxruntime computes what TF computes from ``graph_def`` on a probe batch.

    Compares the output and every Relu6 activation: the random-init networks' outputs barely
    depend on the input, the early activations do, so a conversion error anywhere shows.
    """
    import onnxruntime
    import tensorflow as tf

    names = [output_name] + [f"{n.name}:0" for n in graph_def.node if n.op == "Relu6"]
    check = onnxruntime.InferenceSession(
        _onnx_model(graph_def, input_name, names), providers=["CPUExecutionProvider"]
    )
    x = image_batch(2, seed=1)
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        want = sess.run(names, {input_name: x})
    got = check.run(names, {input_name: x})
    bad = [
        f"{name}: max |diff| {np.abs(w - g).max():.3g} > {ONNX_RTOL * np.abs(w).max():.3g}"
        for name, w, g in zip(names, want, got, strict=True)
        if w.shape != g.shape or np.abs(w - g).max() > ONNX_RTOL * np.abs(w).max()
    ]
    if bad:
        raise AssertionError(
            f"onnxruntime disagrees with TF on {len(bad)} of {len(names)} tensors: "
            + "; ".join(bad[:5])
        )


def onnxruntime_predictor(pb: Path):
    """onnxruntime (CPU, default session options) on the frozen ``pb``, converted by tf2onnx.

    Checked against TF on a probe batch first (AssertionError with the numbers otherwise).
    """
    import onnxruntime

    from ftcore.export.sidecar import read_sidecar
    from ftcore.graph.safety import load_graph_def
    from ftcore.predict.predictor import Predictor

    sidecar = read_sidecar(pb)
    graph_def = load_graph_def(pb)
    inp, out = sidecar.inputs[0].name, sidecar.outputs[0].name
    _check_onnx_matches_tf(graph_def, inp, out)
    session = onnxruntime.InferenceSession(
        _onnx_model(graph_def, inp, [out]), providers=["CPUExecutionProvider"]
    )
    return Predictor(
        "onnxruntime",
        lambda x: session.run([out], {inp: x})[0],
        sidecar.inputs[0].shape[1:],
        sidecar.labels,
        sidecar.preprocessing,
    )


def make_predictor(model: str, path: str, device: str, built):
    """The ``path`` ("frozen", "restored" or "onnxruntime", CPU only) predictor of ``model``
    from ``built`` (a build_* result)."""
    from ftcore.predict import predictor

    source, pb = built
    if path == "onnxruntime":
        if device != "cpu":
            raise ValueError(f"the onnxruntime comparison runs on CPU only, not {device}")
        return onnxruntime_predictor(pb)
    if path == "frozen":
        return predictor.from_pb(pb, device=device)
    if model == "slim":
        return predictor.from_checkpoint(source, SLIM_OUTPUT, device=device)
    return predictor.from_keras(source, device=device)
