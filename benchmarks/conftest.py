"""Shared benchmark fixtures: the MobileNetV2-224 exports (built once per session), cached
predictors for each path and the rates measured so far; see ``mobilenet_224.py``."""

from __future__ import annotations

import os
from importlib import metadata

import pytest
from mobilenet_224 import (
    IMAGE_SIZE,
    build_keras,
    build_slim,
    image_batch,
    make_predictor,
    onnx_missing,
)


@pytest.fixture(scope="session")
def slim_export(tmp_path_factory):
    """(checkpoint dir, optimized frozen .pb) of the TF1 slim MobileNetV2, depth 1.0, 224x224."""
    return build_slim(tmp_path_factory.mktemp("slim_mobilenet_v2_224"))


@pytest.fixture(scope="session")
def keras_export(tmp_path_factory):
    """(Keras MobileNetV2 1.0 at 224 with weights=None, its optimized frozen .pb)."""
    return build_keras(tmp_path_factory.mktemp("keras_mobilenet_v2_224"))


@pytest.fixture(scope="session")
def inference_batch():
    """``inference_batch(n)``: a [n, 224, 224, 3] float32 batch in the MobileNet range [-1, 1]."""
    return image_batch


@pytest.fixture(scope="session")
def predictors(request):
    """``get(model, path, device)`` -> a cached :class:`ftcore.predict.predictor.Predictor`
    (path: "frozen", "restored", "tflite" or "onnxruntime"), checked against the restored
    predictor first unless it is that one."""
    cache: dict = {}

    def get(model: str, path: str, device: str):
        key = (model, path, device)
        if key not in cache:
            built = request.getfixturevalue(f"{model}_export")
            restored = None if path == "restored" else get(model, "restored", device)
            cache[key] = make_predictor(model, path, device, built, restored)
        return cache[key]

    yield get
    for p in cache.values():
        p.close()


@pytest.fixture(scope="session")
def rates() -> dict:
    """``{(model, device, batch): {path: images/s}}`` measured in this run, for ratios."""
    return {}


def pytest_report_header(config):
    onnx = onnx_missing() or "onnxruntime {} / tf2onnx {}".format(
        *(metadata.version(m) for m in ("onnxruntime", "tf2onnx"))
    )
    from ftcore.predict.litert import choose_interpreter

    return (
        f"ftcore benchmarks: MobileNetV2 1.0 @ {IMAGE_SIZE}, {os.cpu_count()} CPU cores visible; "
        + onnx
        + f"; tflite: {choose_interpreter()[1]}"
    )
