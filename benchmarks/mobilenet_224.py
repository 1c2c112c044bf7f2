"""The benchmarked networks: MobileNetV2 1.0 at 224x224 as a TF1 slim checkpoint and as a
Keras model, each with its optimized frozen export, and the predictors for both paths.

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

    from ftcore.freeze import export_checkpoint
    from ftcore.slim_mobilenet_v2 import mobilenet_v2

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

    from ftcore.freeze import export_keras

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


def make_predictor(model: str, path: str, device: str, built):
    """The ``path`` ("frozen" or "restored") predictor of ``model`` from ``built`` (a build_* result)."""
    from ftcore import predictor

    source, pb = built
    if path == "frozen":
        return predictor.frozen(pb, device=device)
    if model == "slim":
        return predictor.restored_checkpoint(source, SLIM_OUTPUT, device=device)
    return predictor.restored_keras(source, device=device)
