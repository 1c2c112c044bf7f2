"""Running .tflite models: the interpreter choice is named, both interpreters agree, batch sizes
change freely, and models with custom (Flex) operators or junk files are refused."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from tensorflow.lite.tools import flatbuffer_utils

from ftcore.errors import InvalidFileError, UnknownNameError, UnsafeContentError
from ftcore.export.litert import export_keras
from ftcore.predict.litert import LiteRTModel, choose_interpreter, custom_ops
from ftcore.predict.predictor import OptionError, load
from tests.helpers.agreement import assert_agree
from tests.helpers.exports import small_keras_model

NO_LITERT = importlib.util.find_spec("ai_edge_litert") is None


@pytest.fixture(scope="module")
def tflite(tmp_path_factory):
    """(a small Keras model, its .tflite export)."""
    model = small_keras_model()
    path = tmp_path_factory.mktemp("tflite") / "small.tflite"
    export_keras(model, path)
    return model, path


def test_tensorflow_interpreter_is_the_named_fallback_and_agrees(tflite):
    model, path = tflite
    x = np.random.default_rng(0).uniform(-1, 1, (3, 16, 16, 3)).astype(np.float32)
    with load(path, interpreter="tensorflow") as tf_lite:
        assert tf_lite.runtime.startswith("tf.lite.Interpreter (TensorFlow 2.")
        assert_agree(lambda b: model(b).numpy(), {"tf.lite": tf_lite}, [x], "small_export")
    _, auto = choose_interpreter("auto")
    assert auto.startswith("tf.lite.Interpreter" if NO_LITERT else "ai_edge_litert ")
    if NO_LITERT:
        assert "fallback: ai-edge-litert not installed" in auto
    with pytest.raises(UnknownNameError, match="unknown interpreter 'tflm'"):
        choose_interpreter("tflm")


@pytest.mark.skipif(NO_LITERT, reason="ai-edge-litert (the 'litert' extra) is not installed")
def test_litert_and_tensorflow_interpreters_give_the_same_outputs(tflite):
    _, path = tflite
    x = np.random.default_rng(1).uniform(-1, 1, (5, 16, 16, 3)).astype(np.float32)
    with load(path, interpreter="litert") as lite, load(path, interpreter="tensorflow") as tf_lite:
        assert lite.runtime.startswith("ai_edge_litert ")
        assert_agree(tf_lite, {"ai_edge_litert": lite}, [x], "interpreter")
        assert lite(x[:2]).shape == (2, 4) and lite(x).shape == (5, 4)  # batch resized back


def test_custom_operators_are_refused_and_junk_is_named(tflite, tmp_path):
    _, path = tflite
    crafted = flatbuffer_utils.convert_bytearray_to_object(bytearray(path.read_bytes()))
    code = crafted.operatorCodes[0]  # turn the first op into TF's ReadFile, run through Flex
    code.customCode, code.builtinCode, code.deprecatedBuiltinCode = b"FlexReadFile", 32, 32
    content = bytes(flatbuffer_utils.convert_object_to_bytearray(crafted))
    assert custom_ops(content) == ["FlexReadFile"] and custom_ops(path.read_bytes()) == []
    (tmp_path / "crafted.tflite").write_bytes(content)
    with pytest.raises(
        UnsafeContentError, match=r"crafted.tflite uses custom operators \['FlexReadFile'\]"
    ):
        load(tmp_path / "crafted.tflite")
    (tmp_path / "junk.tflite").write_bytes(b"\x00" * 64)
    with pytest.raises(InvalidFileError, match="junk.tflite is not a .tflite model"):
        load(tmp_path / "junk.tflite")
    with pytest.raises(UnknownNameError, match="unknown device for a .tflite model 'gpu'"):
        load(path, device="gpu")


def test_int8_models_take_float_batches(tflite, tmp_path):
    """Quantization of the input happens inside: the same float32 batches as the float model."""
    from ftcore.export.litert import Int8

    model, _ = tflite
    rng = np.random.default_rng(3)
    calibration = rng.uniform(-1, 1, (20, 16, 16, 3)).astype(np.float32)
    export_keras(model, tmp_path / "q.tflite", int8=Int8(calibration, calibration[:8], 0.0))
    lite = LiteRTModel((tmp_path / "q.tflite").read_bytes())
    assert lite.quantized and lite.input_dtype == "int8"
    scale, zero = lite.input_quantization
    assert 1 / scale == pytest.approx(127.5, rel=0.02)  # [-1, 1] onto the 256 int8 levels
    (out,) = lite(calibration[:8])
    assert out.dtype == np.float32
    int8_model = {"int8": lambda b: lite(b)[0]}
    assert_agree(lambda b: model(b).numpy(), int8_model, [calibration[:8]], "int8")


def test_load_refuses_options_a_tflite_model_cannot_use(tflite):
    _, path = tflite
    with pytest.raises(
        OptionError, match=r"option 'output' does not apply to a .tflite model \(.*small.tflite\)"
    ):
        load(path, output="MobilenetV2/Predictions/Reshape_1")
    with pytest.raises(OptionError, match=r"'optimize_graph' does not apply to a .tflite model"):
        load(path, optimize_graph=True)
    with pytest.raises(OptionError, match=r"did you mean 'num_threads'\? its options: device, "):
        load(path, num_thread=2)
    with load(path, num_threads=2, labels=list("abcd")) as p:  # its own options still work
        assert p.kind == "tflite" and p.labels == list("abcd")
