"""Running ``.onnx`` models in onnxruntime (CPU), on float32 batches of any size.

An ONNX file holds data, not code, as long as its operators are the standard ones: the default
``ai.onnx`` domain and ``ai.onnx.ml`` (:data:`STANDARD_DOMAINS`), each operator one the ``onnx``
package knows for that domain. Anything else needs code from outside the file (a custom-op
library, or onnxruntime's own contrib domains such as ``com.microsoft``), and tensors kept as
*external data* make onnxruntime read other files named inside the model. :func:`untrusted_content`
lists both and :class:`OnnxModel` refuses such models unless trusted; ftcore never registers a
custom-op library. Needs the ``onnx`` extra (``onnx``, ``onnxruntime``).

    >>> import keras, numpy as np
    >>> from ftcore.export.onnx import convert
    >>> from ftcore.export.pb import keras_graph_def
    >>> gd, inputs, outputs = keras_graph_def(keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)]))
    >>> model = OnnxModel(convert(gd, [inputs[0].name], [t.name for t in outputs]))
    >>> model(np.zeros((8, 4), np.float32))[0].shape, model.runtime.startswith("onnxruntime ")
    ((8, 3), True)
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ftcore.errors import (
    FtcoreError,
    InvalidFileError,
    MismatchError,
    UnsafeContentError,
    first_line,
)

#: The ONNX standard's own operator domains ("" is ai.onnx, the default).
STANDARD_DOMAINS = ("", "ai.onnx", "ai.onnx.ml")


class UnsafeOnnxError(UnsafeContentError):
    """An ``.onnx`` model with operators outside the standard domains, or external data."""


def _require():
    """(onnx, onnxruntime), or a clear error naming the extra to install."""
    try:
        import onnx
        import onnxruntime
    except ImportError as e:
        raise FtcoreError(
            f"running .onnx models needs onnx and onnxruntime ({e}); pip install 'ftcore[onnx]'"
        ) from None
    return onnx, onnxruntime


def parse_model(content: bytes, source: str = "model"):
    """``content`` as an ``onnx.ModelProto``, or :class:`InvalidFileError` (junk, truncated)."""
    onnx, _ = _require()
    try:
        model = onnx.load_from_string(content)
    except Exception as e:  # noqa: BLE001 - protobuf raises DecodeError, RuntimeWarning...
        raise InvalidFileError(
            f"{source} is not an ONNX model (.onnx), or it is truncated: {first_line(e)}"
        ) from None
    if not model.graph.node or not model.opset_import:
        raise InvalidFileError(
            f"{source} is not an ONNX model (.onnx), or it is truncated: no graph nodes or "
            "no opset_import"
        )
    return model


def _graphs(graph) -> Iterator:
    """``graph`` and every subgraph in its nodes' attributes (If/Loop/Scan bodies)."""
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            for sub in [attr.g] if attr.HasField("g") else list(attr.graphs):
                yield from _graphs(sub)


def untrusted_content(model) -> list[str]:
    """What in ``model`` (an ``onnx.ModelProto``) needs trust: operators outside
    :data:`STANDARD_DOMAINS` or unknown to their domain (``domain::Op``), and tensors stored as
    external data (``external data: name``). Empty for a model of standard operators only."""
    import onnx

    def plain(domain: str) -> str:  # "ai.onnx" is the default domain's long name
        return "" if domain == "ai.onnx" else domain

    versions = {plain(o.domain): o.version for o in model.opset_import}
    found = [f"opset domain {d!r}" for d in versions if d not in STANDARD_DOMAINS]
    for graph in _graphs(model.graph):
        for node in graph.node:
            domain = plain(node.domain)
            known = domain in versions and domain in STANDARD_DOMAINS
            known = known and onnx.defs.has(node.op_type, versions[domain], domain)
            if not known:
                found.append(f"{domain or 'ai.onnx'}::{node.op_type}")
        for tensor in graph.initializer:
            if tensor.data_location == onnx.TensorProto.EXTERNAL:
                found.append(f"external data: {tensor.name}")
    return sorted(set(found))


class OnnxModel:
    """An ONNX model in onnxruntime's CPU provider: ``model(x) -> [outputs]``, float32.

    ``num_threads``: onnxruntime's intra-op threads (default: its own, every physical core);
    ``trust`` runs a model :func:`untrusted_content` flags; ``runtime`` names onnxruntime
    and its version.
    """

    def __init__(
        self,
        content: bytes,
        num_threads: int | None = None,
        trust: bool = False,
        source: str = "model",
    ):
        _, onnxruntime = _require()
        model = parse_model(content, source)
        flagged = untrusted_content(model)
        if flagged and not trust:
            raise UnsafeOnnxError(
                f"{source} uses {', '.join(flagged[:5])}{' ...' if len(flagged) > 5 else ''}: "
                f"outside the standard ONNX domains {list(STANDARD_DOMAINS)} (custom-op code or "
                "other files); refusing to load it (pass trust=True / --trust if you trust its author)"
            )
        self.source = source
        self.runtime = f"onnxruntime {onnxruntime.__version__}"
        options = onnxruntime.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = num_threads
        try:
            self._session = onnxruntime.InferenceSession(
                content, options, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # noqa: BLE001 - onnxruntime raises its own Fail/InvalidGraph...
            raise InvalidFileError(
                f"{source} is not an ONNX model onnxruntime can load, or it is corrupt: "
                f"{first_line(e)}"
            ) from None
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            raise MismatchError(f"{source} has {len(inputs)} inputs; ftcore runs one")
        self._input = inputs[0]
        self.output_names = [o.name for o in self._session.get_outputs()]
        self.input_shape: tuple[int | None, ...] = tuple(
            d if isinstance(d, int) else None for d in self._input.shape[1:]
        )

    @property
    def input_name(self) -> str:
        return self._input.name

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        x = np.asarray(x, np.float32)
        try:
            outputs = self._session.run(self.output_names, {self._input.name: x})
        except Exception as e:  # noqa: BLE001 - shapes are checked by the caller: the model is bad
            raise InvalidFileError(f"{self.source} failed to run: {first_line(e)}") from None
        return [np.asarray(y, np.float32) for y in outputs]
