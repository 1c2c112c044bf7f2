"""Running ``.tflite`` models: the LiteRT interpreter, float or full-integer, any batch size.

:func:`choose_interpreter` picks the maintained LiteRT interpreter (package ``ai-edge-litert``,
the ``litert`` extra) when it is installed, else TensorFlow's own ``tf.lite.Interpreter``
(deprecated in TF 2.21 but bundled), and says which one and why. :class:`LiteRTModel` runs a
model on float32 batches: it resizes the batch dimension as needed, quantizes the input and
dequantizes the outputs of int8 models with their own scales and zero points.

A ``.tflite`` file holds data, not code, unless it uses custom operators: TensorFlow's
interpreter runs ``Flex`` ops (any TF op, file reads included). :func:`custom_ops` lists them and
:class:`LiteRTModel` refuses such models unless trusted.

    >>> import keras, numpy as np
    >>> from ftcore.export.litert import convert
    >>> from ftcore.export.pb import keras_graph_def
    >>> gd, inputs, outputs = keras_graph_def(keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)]))
    >>> model = LiteRTModel(convert(gd, [inputs[0].name], [t.name for t in outputs]))
    >>> model(np.zeros((8, 4), np.float32))[0].shape
    (8, 3)
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from importlib import metadata

import numpy as np

from ftcore.errors import (
    FtcoreError,
    InvalidFileError,
    MismatchError,
    UnsafeContentError,
    first_line,
    unknown_name,
)

INTERPRETERS = ("auto", "litert", "tensorflow")


class UnsafeModelError(UnsafeContentError):
    """A ``.tflite`` model with custom (e.g. ``Flex``) operators, refused unless trusted."""


def choose_interpreter(which: str = "auto") -> tuple[type, str]:
    """(Interpreter class, description naming the package, its version and why it was chosen).

    ``which``: ``"litert"`` (``ai-edge-litert``, error if missing), ``"tensorflow"``
    (``tf.lite.Interpreter``) or ``"auto"`` (LiteRT when installed, else TensorFlow's).
    """
    if which not in INTERPRETERS:
        raise unknown_name("interpreter", which, INTERPRETERS)
    if which in ("auto", "litert"):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as e:
            if which == "litert":
                raise FtcoreError(
                    f"the LiteRT interpreter is not installed ({e}); pip install 'ftcore[litert]'"
                ) from None
            reason = "fallback: ai-edge-litert not installed"
        else:
            return Interpreter, f"ai_edge_litert {metadata.version('ai-edge-litert')}"
    else:
        reason = "chosen"
    import tensorflow as tf

    return tf.lite.Interpreter, f"tf.lite.Interpreter (TensorFlow {tf.__version__}; {reason})"


def custom_ops(content: bytes) -> list[str]:
    """Names of the custom operators (``Flex*`` included) a ``.tflite`` model uses."""
    from tensorflow.lite.python import schema_py_generated as schema

    try:
        model = schema.Model.GetRootAs(content, 0)
        codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
        return sorted({c.CustomCode().decode() for c in codes if c.CustomCode()})
    except Exception as e:  # noqa: BLE001 - flatbuffers raises struct/index/unicode errors on junk
        raise InvalidFileError(f"not a .tflite model: {first_line(e)}") from None


class LiteRTModel:
    """A ``.tflite`` model behind the LiteRT interpreter: ``model(x) -> [outputs]``, float32.

    ``num_threads`` defaults to every CPU core; ``interpreter`` as :func:`choose_interpreter`.
    ``interpreter`` (attribute) describes the interpreter that runs it.
    """

    def __init__(
        self,
        content: bytes,
        num_threads: int | None = None,
        interpreter: str = "auto",
        trust: bool = False,
        source: str = "model",
    ):
        if content[4:8] != b"TFL3":
            raise InvalidFileError(f"{source} is not a .tflite model (no TFL3 identifier)")
        custom = custom_ops(content)
        if custom and not trust:
            raise UnsafeModelError(
                f"{source} uses custom operators {custom}; Flex ops can run any TensorFlow op "
                "(file reads included): refused unless trusted"
            )
        cls, self.interpreter = choose_interpreter(interpreter)
        self.source = source
        try:
            with warnings.catch_warnings():  # tf.lite.Interpreter's deprecation: in .interpreter
                warnings.simplefilter("ignore", UserWarning)
                self._it = cls(model_content=content, num_threads=num_threads or os.cpu_count())
            self._it.allocate_tensors()  # a corrupt model fails here, not at the first call
            self._input = self._it.get_input_details()
            self._outputs = self._it.get_output_details()
        except Exception as e:  # noqa: BLE001 - the interpreter raises ValueError, TypeError...
            raise InvalidFileError(
                f"{source} is not a .tflite model the interpreter can load, or it is corrupt: "
                f"{first_line(e)}"
            ) from None
        if len(self._input) != 1:
            raise MismatchError(f"{source} has {len(self._input)} inputs; ftcore runs one")
        self._input = self._input[0]
        self._batch: int | None = None
        sig = self._input["shape_signature"]
        self.input_shape: tuple[int | None, ...] = tuple(None if d < 0 else int(d) for d in sig[1:])
        self.input_dtype = np.dtype(self._input["dtype"]).name

    @property
    def input_name(self) -> str:
        return self._input["name"]

    @property
    def output_names(self) -> list[str]:
        return [d["name"] for d in self._outputs]

    @property
    def input_quantization(self) -> tuple[float, int]:
        """(scale, zero point) of the input: ``int8 = round(x / scale + zero point)``."""
        scale, zero = self._input["quantization"]
        return float(scale), int(zero)

    @property
    def quantized(self) -> bool:
        """True for integer input (a full-integer model)."""
        return self.input_dtype != "float32"

    def _resize(self, shape: Sequence[int]) -> None:
        if self._batch != shape[0]:
            self._it.resize_tensor_input(self._input["index"], list(shape))
            self._it.allocate_tensors()
            self._batch = shape[0]

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        x = np.asarray(x, np.float32)
        if self.quantized:
            scale, zero = self._input["quantization"]
            info = np.iinfo(self._input["dtype"])
            x = np.clip(np.round(x / scale + zero), info.min, info.max)
        try:
            self._resize(x.shape)
            self._it.set_tensor(self._input["index"], x.astype(self._input["dtype"]))
            self._it.invoke()
        except (ValueError, RuntimeError) as e:  # shapes checked by the caller: the model is bad
            raise InvalidFileError(f"{self.source} failed to run: {first_line(e)}") from None
        outputs = []
        for detail in self._outputs:
            y = self._it.get_tensor(detail["index"])
            scale, zero = detail["quantization"]
            if y.dtype != np.float32 and scale:
                y = (y.astype(np.float32) - zero) * scale
            outputs.append(np.array(y, np.float32))
        return outputs
