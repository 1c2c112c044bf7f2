"""Shared benchmark fixtures: MobileNetV2 1.0 at 224 in both formats, frozen and restored.

The networks are randomly initialised (weights do not change the amount of arithmetic,
so throughput is the same as with ImageNet weights; BN statistics are randomised so BN
folding is exercised on non-trivial values). Models are built once per session.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

IMAGE_SIZE = 224
NUM_CLASSES = 1001  # slim's ImageNet head (background class + 1000)
SLIM_INPUT = "input"
SLIM_OUTPUT = "MobilenetV2/Predictions/Reshape_1"


@pytest.fixture(scope="session")
def image_batch():
    """``image_batch(n)``: a [n, 224, 224, 3] float32 batch in the MobileNet range [-1, 1]."""

    def make(batch: int, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return rng.uniform(-1, 1, (batch, IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.float32)

    return make


def _randomise_bn(values: dict[str, np.ndarray], rng) -> dict[str, np.ndarray]:
    return {
        name: rng.uniform(0.5, 1.5, v.shape).astype(v.dtype) if "variance" in name or "gamma" in name
        else rng.uniform(-0.2, 0.2, v.shape).astype(v.dtype)
        for name, v in values.items()
    }  # fmt: skip


@pytest.fixture(scope="session")
def slim_export(tmp_path_factory):
    """(checkpoint dir, optimized frozen .pb) of the TF1 slim MobileNetV2, depth 1.0, 224x224."""
    import tensorflow as tf

    from ftcore.freeze import export_checkpoint
    from ftcore.slim_mobilenet_v2 import mobilenet_v2

    v1 = tf.compat.v1
    root = tmp_path_factory.mktemp("slim_mobilenet_v2_224")
    g = tf.Graph()
    with g.as_default():
        v1.set_random_seed(0)
        x = v1.placeholder(tf.float32, [None, IMAGE_SIZE, IMAGE_SIZE, 3], name=SLIM_INPUT)
        mobilenet_v2(x, num_classes=NUM_CLASSES, depth_multiplier=1.0)
        bn = [v for v in v1.global_variables() if "BatchNorm" in v.name]
        saver = v1.train.Saver()
        with v1.Session(graph=g) as sess:
            sess.run(v1.global_variables_initializer())
            new = _randomise_bn(
                dict(zip([v.name for v in bn], sess.run(bn), strict=True)), np.random.default_rng(0)
            )
            sess.run([v.assign(new[v.name]) for v in bn])
            saver.save(sess, str(root / "model.ckpt"))
    pb = root / "frozen.pb"
    export_checkpoint(root, pb, outputs=[SLIM_OUTPUT])
    return root, pb


@pytest.fixture(scope="session")
def keras_export(tmp_path_factory):
    """(Keras MobileNetV2 1.0 at 224 with weights=None, its optimized frozen .pb)."""
    import keras

    from ftcore.freeze import export_keras

    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3), weights=None)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            names = ["gamma", "beta", "moving_mean", "moving_variance"]
            new = _randomise_bn(dict(zip(names, layer.get_weights(), strict=True)), rng)
            layer.set_weights([new[n] for n in names])
    pb = tmp_path_factory.mktemp("keras_mobilenet_v2_224") / "frozen.pb"
    export_keras(model, pb)
    return model, pb


@pytest.fixture(scope="session")
def predictors(request):
    """``get(model, path, device)`` -> a cached :class:`ftcore.predictor.Predictor`."""
    from ftcore import predictor

    cache: dict = {}

    def get(model: str, path: str, device: str):
        key = (model, path, device)
        if key not in cache:
            if model == "slim":
                ckpt, pb = request.getfixturevalue("slim_export")
                cache[key] = (
                    predictor.frozen(pb, device=device) if path == "frozen"
                    else predictor.restored_checkpoint(ckpt, SLIM_OUTPUT, device=device)
                )  # fmt: skip
            else:
                keras_model, pb = request.getfixturevalue("keras_export")
                cache[key] = (
                    predictor.frozen(pb, device=device) if path == "frozen"
                    else predictor.restored_keras(keras_model, device=device)
                )  # fmt: skip
        return cache[key]

    yield get
    for p in cache.values():
        p.close()


def pytest_report_header(config):
    return f"ftcore benchmarks: MobileNetV2 1.0 @ {IMAGE_SIZE}, {os.cpu_count()} CPU cores visible"
