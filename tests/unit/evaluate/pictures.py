"""The one check every picture passes: a PNG of the expected size that is not blank."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

MIN_STD = 10.0  # grey-level spread; a blank or near-blank canvas is ~0
MIN_COLOURS = 8  # distinct RGB values (text anti-aliasing alone gives greys only)


def assert_picture(path: Path, size: tuple[int, int]) -> np.ndarray:
    """Open ``path`` as a PNG of ``size`` (width, height) that is not blank; its RGB pixels."""
    with Image.open(path) as img:
        assert img.format == "PNG", img.format
        assert img.size == size, (img.size, size)
        rgb = np.asarray(img.convert("RGB"))
    assert rgb.std() > MIN_STD, f"{path} looks blank (std {rgb.std():.1f})"
    colours = len(np.unique(rgb.reshape(-1, 3), axis=0))
    assert colours >= MIN_COLOURS, f"{path} has only {colours} colours"
    return rgb


def has_colour(rgb: np.ndarray, colour: tuple[int, int, int], tol: int = 3) -> bool:
    return bool((np.abs(rgb.astype(int) - colour).max(axis=2) <= tol).any())
