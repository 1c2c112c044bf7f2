"""``ftcore predict MODEL DIR --output predictions.csv``: every image under a folder
(recursively) through a predictor, a batch at a time, into one CSV written atomically.

Files whose name ends in an image suffix (:data:`ftcore.data.IMAGE_SUFFIXES`) are taken, in
sorted order; each batch is decoded in threads by predict's own loader. A file that cannot be
read or decoded is listed with its reason (:class:`~ftcore.data.BadFile`) and the run goes
on; only the paths, one batch of images and the CSV rows of that batch are in memory.

CSV: ``path`` (relative to the folder, POSIX), then ``class_1, score_1, ..., class_k,
score_k`` (best first), one row per image that decoded.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ftcore import atomic
from ftcore.data.errors import BadFile
from ftcore.data.folder import IMAGE_SUFFIXES
from ftcore.errors import EmptyDataError, FtcoreError, InvalidFileError, first_line
from ftcore.predict import Predictor, load_image

__all__ = ["image_files", "predict_folder"]


def image_files(root: str | os.PathLike) -> list[tuple[str, Path]]:
    """(relative POSIX path, path) of every image file under ``root``, sorted; hidden files
    and folders are skipped, symlinked folders are not followed."""
    root = Path(root)
    if not root.is_dir():
        raise InvalidFileError(f"{root} is not a folder of images")
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            if not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES):
                path = Path(folder, name)
                found.append((path.relative_to(root).as_posix(), path))
    if not found:
        raise EmptyDataError(
            f"{root} holds no image files (expected files ending in {', '.join(IMAGE_SUFFIXES)},"
            " in it or its subfolders)"
        )
    return sorted(found)


def _umask_mode() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _decode(rel: str, path: Path, predictor: Predictor) -> np.ndarray | BadFile:
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return BadFile(os.fsencode(rel).decode("utf-8", "replace"), "file name is not valid UTF-8")
    try:
        return load_image(path, predictor.image_size, preprocessing=predictor.preprocessing)
    except (FtcoreError, OSError) as e:
        return BadFile(rel, first_line(e).removeprefix(f"{path} "))


def _batches(files, predictor, batch_size, workers) -> Iterator[tuple[list[str], list, list]]:
    with ThreadPoolExecutor(workers or min(8, os.cpu_count() or 1)) as pool:
        for i in range(0, len(files), batch_size):
            chunk = files[i : i + batch_size]
            decoded = list(pool.map(lambda f: _decode(*f, predictor), chunk))
            good = [
                (f[0], x) for f, x in zip(chunk, decoded, strict=True) if not isinstance(x, BadFile)
            ]
            yield (
                [r for r, _ in good],
                [x for _, x in good],
                [x for x in decoded if isinstance(x, BadFile)],
            )


def _header(k: int) -> list[str]:
    return ["path"] + [f"{c}_{r}" for r in range(1, k + 1) for c in ("class", "score")]


def predict_folder(
    predictor: Predictor,
    files: Sequence[tuple[str, Path]],
    output: str | os.PathLike,
    k: int = 5,
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> tuple[int, list[BadFile]]:
    """Write the top-``k`` predictions of ``files`` (:func:`image_files` of a folder) to the
    CSV ``output``; return (rows written, bad files). ``progress(n)`` hears after each batch
    of ``n`` files.

    >>> import tempfile; from PIL import Image; from ftcore.predict import Predictor
    >>> root = Path(tempfile.mkdtemp()); (root / "day1").mkdir()
    >>> Image.new("RGB", (20, 20), "white").save(root / "day1/a.png")
    >>> _ = (root / "b.jpg").write_bytes(b"")
    >>> bright = Predictor("demo", lambda x: np.stack([x.mean((1, 2, 3)), -x.mean((1, 2, 3))], 1),
    ...                    (8, 8, 3), labels=["bright", "dark"])
    >>> predict_folder(bright, image_files(root), root / "out.csv", k=1)
    (1, [BadFile(path='b.jpg', reason='is empty (0 bytes), expected an image file')])
    >>> print((root / "out.csv").read_text().strip())
    path,class_1,score_1
    day1/a.png,bright,1
    """
    bad: list[BadFile] = []
    rows = 0
    with atomic.atomic_path(output, suffix=".csv") as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            for paths, images, failed in _batches(files, predictor, batch_size, workers):
                bad += failed
                if images:
                    rows += _write_rows(writer, predictor, paths, images, k, header=not rows)
                if progress is not None:
                    progress(len(paths) + len(failed))
            if not rows:
                writer.writerow(_header(k))
        tmp.chmod(_umask_mode())
    return rows, bad


def _write_rows(writer, predictor: Predictor, paths, images, k: int, header: bool) -> int:
    """One batch: predict, write its rows (after the header, if ``header``); their number."""
    top = predictor.top_k(predictor.predict(np.stack(images), len(images)), k)
    if header:
        writer.writerow(_header(len(top[0])))
    for rel, preds in zip(paths, top, strict=True):
        writer.writerow([rel, *[v for p in preds for v in (p.label, f"{p.score:.6g}")]])
    return len(paths)
