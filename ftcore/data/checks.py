"""Decode every image once, before any training, and say what is wrong with each bad one.

Each file is decoded by the same code as ``ftcore predict`` (:func:`ftcore.predict.images.load_image`),
so a file that passes here decodes in training too. Refused besides what that loader refuses
(empty, not an image, an unaccepted format, truncated or corrupt): images smaller than
``min_size`` pixels on a side, and images over Pillow's ``Image.MAX_IMAGE_PIXELS`` (where
Pillow itself only warns, up to twice that), which may be decompression bombs.

    >>> import io, tempfile; from PIL import Image; folder = Path(tempfile.mkdtemp())
    >>> Image.new("RGB", (1, 1)).save(folder / "dot.png"); _ = (folder / "a.jpg").write_text("hi")
    >>> for reason in check_images([folder / "dot.png", folder / "a.jpg"], names=["dot.png", "a.jpg"]):
    ...     print(reason)
    dot.png: too small: 1x1 pixels; the minimum is 8 pixels on each side (min_size=8)
    a.jpg: is not an image in an accepted format (JPEG, PNG, BMP, GIF, TIFF, WEBP, PPM); it starts with b'hi'
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

from ftcore.data.errors import BadFile
from ftcore.errors import InvalidFileError, first_line
from ftcore.predict import FORMATS, load_image

__all__ = ["MIN_SIZE", "check_image", "check_images"]

#: The smallest image side accepted by default, in pixels.
MIN_SIZE = 8


def _header_problem(data: bytes, min_size: int) -> str | None:
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as img:
            w, h = img.size
    except Image.DecompressionBombError as e:
        return f"refused as a possible decompression bomb: {first_line(e)}"
    except Exception:  # noqa: BLE001 - not an image: load_image below says how
        return None
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and w * h > limit:
        return (
            f"refused as a possible decompression bomb: {w}x{h} = {w * h} pixels is over "
            f"Pillow's limit of {limit} (Image.MAX_IMAGE_PIXELS)"
        )
    if min(w, h) < min_size:
        return (
            f"too small: {w}x{h} pixels; the minimum is {min_size} pixels on each side "
            f"(min_size={min_size})"
        )
    return None


def check_image(path: str | os.PathLike, min_size: int = MIN_SIZE) -> str | None:
    """Why the image at ``path`` cannot be used (one line), or ``None`` if it decodes."""
    with warnings.catch_warnings():  # over the limit is refused by name in _header_problem
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return _check(path, min_size)


def _check(path: str | os.PathLike, min_size: int) -> str | None:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        return f"cannot read: {e.strerror or e}"
    if not data:
        return "is empty (0 bytes), expected an image"
    problem = _header_problem(data, min_size)
    if problem:
        return problem
    try:
        load_image(data, min_size, preprocessing="raw", resample="nearest")
    except InvalidFileError as e:
        return first_line(e).removeprefix(f"<{len(data)} bytes> ")
    return None


def check_images(
    paths: Sequence[str | os.PathLike],
    names: Sequence[str] | None = None,
    min_size: int = MIN_SIZE,
    workers: int | None = None,
) -> list[BadFile]:
    """:func:`check_image` on every path (threads: Pillow decodes without the GIL); the bad
    ones as :class:`BadFile` named by ``names`` (default: the paths), in the paths' order."""
    names = [str(p) for p in paths] if names is None else list(names)
    if len(names) != len(paths):
        raise ValueError(f"{len(paths)} paths but {len(names)} names")
    with warnings.catch_warnings():  # over the limit is refused by name in _header_problem
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with ThreadPoolExecutor(workers or min(8, os.cpu_count() or 1)) as pool:
            reasons = list(pool.map(lambda p: _check(p, min_size), paths))
    return [BadFile(n, r) for n, r in zip(names, reasons, strict=True) if r]
