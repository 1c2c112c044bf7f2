"""The JSON sidecar of an export (``model.pb.json``): what a user needs besides the graph.

Input and output tensor names, shapes and dtypes, the preprocessing convention, labels and the
export's self-check figures. Reading a sidecar needs no TensorFlow.

    >>> x, y = TensorInfo("input:0", [None, 32, 32, 3], "float32"), TensorInfo("y:0", [None, 2], "float32")
    >>> sc = Sidecar([x], [y], labels=["cat", "dog"])
    >>> Sidecar.from_json(sc.to_json()) == sc
    True
    >>> sidecar_path("runs/model.pb").name
    'model.pb.json'
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

from ftcore import atomic
from ftcore.errors import InvalidFileError
from ftcore.file_kinds import read_text
from ftcore.preprocessing import PREPROCESSING


@dataclasses.dataclass
class TensorInfo:
    """A graph tensor's name (``node:index``), static shape (None for unknown) and dtype."""

    name: str
    shape: list[int | None] | None
    dtype: str


@dataclasses.dataclass
class Sidecar:
    """What a user of an export needs besides the model file (stored as ``<model>.json``).

    ``format``: ``"pb"`` (a frozen GraphDef) or ``"tflite"`` (a LiteRT flatbuffer).
    """

    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    preprocessing: str = "mobilenet"
    labels: list[str] | None = None
    source: str = ""
    optimized: bool = True
    check: dict = dataclasses.field(default_factory=dict)
    format: str = "pb"
    model_sha256: str = ""  # of the model file it describes; "" in sidecars before this field

    def to_json(self) -> str:
        d = dataclasses.asdict(self)
        convention = PREPROCESSING.get(self.preprocessing)
        d["preprocessing_detail"] = convention.detail if convention else ""
        return json.dumps(d, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "sidecar") -> Sidecar:
        """Parse and check a sidecar; anything else raises :class:`InvalidFileError`."""
        try:
            d = json.loads(text)
            d.pop("preprocessing_detail", None)
            d["inputs"] = [_tensor_info(t) for t in d["inputs"]]
            d["outputs"] = [_tensor_info(t) for t in d["outputs"]]
            sidecar = cls(**d)
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
            detail = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise InvalidFileError(f"{source} is not an ftcore export sidecar: {detail}") from None
        problem = sidecar._problem()
        if problem:
            raise InvalidFileError(f"{source} is not an ftcore export sidecar: {problem}")
        return sidecar

    def _problem(self) -> str:
        """What is wrong with the field types (JSON can hold anything), or ``""``."""
        if not self.inputs or not self.outputs:
            return "it names no input or no output tensor"
        if not all(
            isinstance(v, str) for v in (self.preprocessing, self.format, self.model_sha256)
        ):
            return "'preprocessing', 'format' and 'model_sha256' must be strings"
        if self.labels is not None and not (
            isinstance(self.labels, list) and all(isinstance(x, str) for x in self.labels)
        ):
            return "'labels' must be a list of strings or null"
        if not isinstance(self.check, dict):
            return "'check' must be an object"
        return ""


def _tensor_info(t: dict) -> TensorInfo:
    info = TensorInfo(**t)
    shape_ok = info.shape is None or (
        isinstance(info.shape, list)
        and all(d is None or (isinstance(d, int) and not isinstance(d, bool)) for d in info.shape)
    )
    if not (isinstance(info.name, str) and info.name and isinstance(info.dtype, str) and shape_ok):
        raise ValueError(f"bad tensor entry {t!r}: expected a name, a shape list and a dtype")
    return info


def sidecar_path(pb_path: str | os.PathLike) -> Path:
    """``model.pb`` -> ``model.pb.json``."""
    pb_path = Path(pb_path)
    return pb_path.with_name(pb_path.name + ".json")


def read_sidecar(pb_path: str | os.PathLike) -> Sidecar | None:
    """The sidecar written beside ``pb_path``, or None if there is none (nothing at its path).

    Raises :class:`InvalidFileError` if it names another model file (``model_sha256``), as
    after an export interrupted between writing the two files."""
    path = sidecar_path(pb_path)
    if not path.exists():
        return None
    sidecar = Sidecar.from_json(read_text(path, "an ftcore export sidecar (JSON)"), str(path))
    if sidecar.model_sha256 and Path(pb_path).is_file():
        actual = hashlib.sha256(Path(pb_path).read_bytes()).hexdigest()
        if actual != sidecar.model_sha256:
            raise InvalidFileError(
                f"{path} describes another model than {pb_path} (sha256 {actual[:12]}..., "
                f"the sidecar says {sidecar.model_sha256[:12]}...): an interrupted export? "
                "Export again."
            )
    return sidecar


def write_export(model_path: str | os.PathLike, content: bytes, sidecar: Sidecar) -> Sidecar:
    """Write ``content`` to ``model_path``, then ``sidecar`` (given the content's sha256)
    beside it, each atomically: a crash between the two leaves a pair that
    :func:`read_sidecar` refuses, never a sidecar silently describing another model."""
    sidecar.model_sha256 = hashlib.sha256(content).hexdigest()
    atomic.write_bytes(model_path, content)
    atomic.write_text(sidecar_path(model_path), sidecar.to_json())
    return sidecar
