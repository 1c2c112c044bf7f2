"""Where a head-only stage's cached features live: in RAM, or spilled to disk past a budget.

:func:`store_features` runs the frozen base batch by batch (streamed input is never held
whole) and keeps the outputs in RAM until they would exceed ``ram_bytes``; then everything
goes to a folder under ``<cache root>/features/`` (:func:`ftcore.cache.cache_root`), written
atomically (:func:`ftcore.atomic.build_once`: complete or absent) and read back as a
``np.memmap`` one batch at a time.

The folder is named by :func:`feature_key`: sha256 of the base's weights (every variable,
BatchNorm statistics included, by path), its cut (its layer names up to the cut, input and output shapes)
and a data key (the caller's ``data_key``: for a folder, the file list with content hashes,
image size and preprocessing; for arrays, sha256 of their bytes). A later run with the same
key reads the folder instead of running the base. Without a data key (a dataset with no
``FitOptions.cache_key``) the spill is a private temporary folder, removed by
:meth:`Features.close`.

    >>> import keras, numpy as np
    >>> base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> batches = [(np.ones((2, 4), "float32"), np.array([0, 1]))] * 3
    >>> f = store_features(base, batches, ram_bytes=0); f.x.shape, f.on_disk
    ((6, 3), True)
    >>> f.close()
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from ftcore.atomic import build_once, file_mode
from ftcore.cache import cache_root

_META = "meta.json"


@dataclass
class Features:
    """Cached base outputs ``x`` (an array, or a read-only memmap) and their labels ``y``."""

    x: np.ndarray
    y: np.ndarray
    path: Path | None = None  # the disk folder, None in RAM
    keep: bool = True  # False: a private spill folder, removed by close()

    @property
    def on_disk(self) -> bool:
        return self.path is not None

    def close(self) -> None:
        if self.path is not None and not self.keep:
            self.x = None
            shutil.rmtree(self.path, ignore_errors=True)


def array_key(*arrays: np.ndarray) -> str:
    """sha256 of the arrays' shapes, dtypes and bytes: the data key of array input."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.shape}{a.dtype}".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def feature_key(base: keras.Model, data_key: str) -> str:
    """The disk-cache key of ``base``'s outputs on the data named ``data_key``."""
    h = hashlib.sha256()
    for v in base.weights:
        h.update(v.path.encode())
        h.update(np.ascontiguousarray(v.numpy()).tobytes())
    cut = {  # layer names, not tensor names (those are counters, new in every process)
        "layers": [layer.name for layer in base.layers],
        "inputs": [list(t.shape) for t in base.inputs],
        "outputs": [list(t.shape) for t in base.outputs],
        "data": data_key,
    }
    h.update(json.dumps(cut, sort_keys=True, default=str).encode())
    return h.hexdigest()


def _complete(path: Path) -> bool:
    return (path / _META).is_file()


def _open(path: Path, keep: bool = True) -> Features:
    meta = json.loads((path / _META).read_text())
    x = np.memmap(path / "features.bin", meta["dtype"], "r", shape=tuple(meta["shape"]))
    return Features(x, np.load(path / "labels.npy"), path, keep)


def store_features(
    base: keras.Model,
    batches: Iterable[tuple[np.ndarray, np.ndarray]],
    *,
    ram_bytes: int,
    key: str | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> Features:
    """``base``'s inference outputs of every batch with their labels, in RAM up to
    ``ram_bytes``, else on disk under ``key`` (see the module). ``on_batch(n)`` after each."""
    folder = cache_root() / "features"
    if key is not None and _complete(folder / key):
        return _open(folder / key)
    it, xs, ys, size, n = iter(batches), [], [], 0, 0
    for xb, yb in it:
        xs.append(_predict(base, xb))
        ys.append(np.asarray(yb))
        size, n = size + xs[-1].nbytes, n + 1
        if on_batch is not None:
            on_batch(n)
        if size > ram_bytes:
            return _spill(base, folder, key, xs, ys, it, on_batch, n)
    return Features(np.concatenate(xs), np.concatenate(ys))


def _predict(base: keras.Model, xb: np.ndarray) -> np.ndarray:
    """One batch through ``base`` (under a distribution strategy: split across replicas)."""
    if tf.distribute.has_strategy():
        return np.asarray(base.predict(xb, batch_size=len(xb), verbose=0))
    return np.asarray(base.predict_on_batch(xb))


def _spill(base, folder: Path, key, xs, ys, it, on_batch, n) -> Features:
    def write(tmp: Path) -> None:
        count = 0
        with open(tmp / "features.bin", "wb") as out:
            for chunk in xs:
                out.write(np.ascontiguousarray(chunk).tobytes())
                count += len(chunk)
            xs.clear()
            for i, (xb, yb) in enumerate(it, start=n + 1):
                chunk = _predict(base, xb)
                out.write(np.ascontiguousarray(chunk).tobytes())
                count += len(chunk)
                ys.append(np.asarray(yb))
                if on_batch is not None:
                    on_batch(i)
        np.save(tmp / "labels.npy", np.concatenate(ys))
        shape = [count, *base.outputs[0].shape[1:]]
        meta = {"shape": shape, "dtype": str(chunk.dtype)}
        (tmp / _META).write_text(json.dumps(meta))

    if key is not None:
        return _open(build_once(folder / key, write, _complete))
    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".spill-", dir=folder))
    tmp.chmod(file_mode(True))
    write(tmp)
    return _open(tmp, keep=False)
