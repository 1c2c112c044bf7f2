"""A folder of class subfolders, scanned and every image decoded once: the files training may
use, or one error listing every bad file with its reason.

    >>> import pathlib, tempfile; from PIL import Image; root = pathlib.Path(tempfile.mkdtemp())
    >>> for i, rel in enumerate(["cat/1.png", "cat/2.png", "dog/1.png", "dog/2.png"]):
    ...     (root / rel).parent.mkdir(exist_ok=True); Image.new("L", (16, 16), 40 * i).save(root / rel)
    >>> _ = (root / "dog/3.jpg").write_bytes(b"")
    >>> load_folder(root)
    Traceback (most recent call last):
    ftcore.data.errors.BadImagesError: 1 bad image file (fix or remove them, or pass skip_bad=True to leave them out):
      dog/3.jpg: is empty (0 bytes), expected an image
    >>> folder = load_folder(root, skip_bad=True)
    >>> [f.path for f in folder.files], [str(b) for b in folder.bad]
    (['cat/1.png', 'cat/2.png', 'dog/1.png', 'dog/2.png'], ['dog/3.jpg: is empty (0 bytes), expected an image'])
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

from ftcore.data.checks import MIN_SIZE, check_images
from ftcore.data.errors import BadImagesError
from ftcore.data.folder import FolderScan, _duplicates, scan_folder
from ftcore.errors import EmptyDataError

__all__ = ["load_folder"]


def load_folder(
    root: str | os.PathLike,
    class_names: Sequence[str] | None = None,
    *,
    min_size: int = MIN_SIZE,
    skip_bad: bool = False,
    workers: int | None = None,
) -> FolderScan:
    """:func:`~ftcore.data.folder.scan_folder` ``root``, then decode every image
    (:func:`~ftcore.data.checks.check_images`). Any bad file raises :class:`BadImagesError`
    listing them all, unless ``skip_bad``: then the result leaves them out and lists them in
    ``bad``. A class left with no usable image is an :class:`EmptyDataError` either way."""
    scan = scan_folder(root, class_names)
    decoded_bad = check_images(
        [scan.root / f.path for f in scan.files], [f.path for f in scan.files], min_size, workers
    )
    bad = list(scan.bad) + decoded_bad
    if bad and not skip_bad:
        raise BadImagesError(bad)
    bad_paths = {b.path for b in decoded_bad}
    files = tuple(f for f in scan.files if f.path not in bad_paths)
    for label, name in enumerate(scan.class_names):
        if not any(f.label == label for f in files):
            mine = [b.path for b in bad if b.path.startswith(f"{name}/")]
            raise EmptyDataError(
                f"class {name!r} has no usable images: all {len(mine)} of its files are bad "
                f"({', '.join(mine[:5])}{', ...' if len(mine) > 5 else ''})"
            )
    return dataclasses.replace(scan, files=files, duplicates=_duplicates(files), bad=tuple(bad))
