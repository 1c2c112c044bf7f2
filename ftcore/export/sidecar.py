"""The JSON sidecar of an export (``model.pb.json``): what a user needs besides the graph.

Input and output tensor names, shapes and dtypes, the preprocessing convention, labels and the
export's self-check figures. Reading a sidecar needs no TensorFlow.

    >>> sc = Sidecar([TensorInfo("input:0", [None, 32, 32, 3], "float32")], [], labels=["cat"])
    >>> Sidecar.from_json(sc.to_json()) == sc
    True
    >>> sidecar_path("runs/model.pb").name
    'model.pb.json'
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from ftcore.errors import InvalidFileError
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

    def to_json(self) -> str:
        d = dataclasses.asdict(self)
        convention = PREPROCESSING.get(self.preprocessing)
        d["preprocessing_detail"] = convention.detail if convention else ""
        return json.dumps(d, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "sidecar") -> Sidecar:
        try:
            d = json.loads(text)
            d.pop("preprocessing_detail", None)
            d["inputs"] = [TensorInfo(**t) for t in d["inputs"]]
            d["outputs"] = [TensorInfo(**t) for t in d["outputs"]]
            return cls(**d)
        except (ValueError, KeyError, TypeError) as e:
            raise InvalidFileError(f"{source} is not an ftcore export sidecar: {e}") from None


def sidecar_path(pb_path: str | os.PathLike) -> Path:
    """``model.pb`` -> ``model.pb.json``."""
    pb_path = Path(pb_path)
    return pb_path.with_name(pb_path.name + ".json")


def read_sidecar(pb_path: str | os.PathLike) -> Sidecar | None:
    """The sidecar written beside ``pb_path``, or None if there is none."""
    path = sidecar_path(pb_path)
    return Sidecar.from_json(path.read_text(), str(path)) if path.is_file() else None
