"""Real image files for the data-wing tests, made with Pillow in a given folder."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image


def write_image(path: Path, value: int = 0, size=(16, 12), fmt: str | None = None) -> Path:
    """An RGB image of ``size`` (w, h) whose pixels depend on ``value`` (distinct contents)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(value)
    arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).save(path, format=fmt)
    return path


def make_folder(root: Path, counts: dict[str, int], suffix: str = ".png") -> Path:
    """``root/<class>/<i><suffix>`` with ``counts[class]`` distinct images per class."""
    value = 0
    for cls, n in counts.items():
        for i in range(n):
            write_image(root / cls / f"{i}{suffix}", value)
            value += 1
    return root


def jpeg_bytes(size=(64, 48), value: int = 0) -> bytes:
    buf = io.BytesIO()
    arr = np.random.default_rng(value).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).save(buf, format="JPEG", quality=90)
    return buf.getvalue()
