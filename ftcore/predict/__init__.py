"""Inference behind one interface (restored checkpoint, Keras model, frozen ``.pb``,
``.tflite``, ``.onnx``) and image loading for it.

    >>> from ftcore.predict import load, load_images
"""

from ftcore.predict.images import FORMATS, image_size, load_image, load_images, size_hw
from ftcore.predict.litert import LiteRTModel
from ftcore.predict.onnx_runtime import OnnxModel
from ftcore.predict.predictor import (
    OptionError,
    Prediction,
    Predictor,
    from_checkpoint,
    from_keras,
    from_onnx,
    from_pb,
    from_tflite,
    load,
    load_keras_model,
    load_options,
)

__all__ = [
    "FORMATS",
    "LiteRTModel",
    "OnnxModel",
    "OptionError",
    "Prediction",
    "Predictor",
    "from_checkpoint",
    "from_keras",
    "from_onnx",
    "from_pb",
    "from_tflite",
    "image_size",
    "load",
    "load_image",
    "load_keras_model",
    "load_options",
    "load_images",
    "size_hw",
]
