"""Exports: verified, optimized frozen graphs (``.pb``), LiteRT models (``.tflite``) and ONNX
models (``.onnx``), each with a JSON sidecar (the format lives in :mod:`ftcore.sidecar`, below
export and predict).

``pb``, ``litert`` and ``onnx`` are the exporters, one per format, with the same entry points
(``export_keras``, ``export_checkpoint``; ``litert.export_pb`` and ``onnx.export_pb`` convert a
``.pb``); the ``.pb`` ones are also here by name.

    >>> from ftcore.export import export_checkpoint, export_keras, litert, pb, read_sidecar
    >>> litert.export_keras.__module__, pb.export_keras is export_keras
    ('ftcore.export.litert', True)
"""

from ftcore.export import litert, onnx, pb
from ftcore.export.litert import MIN_AGREEMENT, Int8, QuantizationError
from ftcore.export.pb import export_checkpoint, export_keras, export_session
from ftcore.sidecar import Sidecar, read_sidecar

__all__ = [
    "MIN_AGREEMENT",
    "Int8",
    "QuantizationError",
    "Sidecar",
    "export_checkpoint",
    "export_keras",
    "export_session",
    "litert",
    "onnx",
    "pb",
    "read_sidecar",
]
