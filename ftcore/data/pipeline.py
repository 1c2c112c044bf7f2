"""Streaming ``tf.data`` input from image files: (path, label) -> the decoded, resized, scaled
image, by the same code as ``ftcore predict`` (:func:`ftcore.predict.images.load_image`, run
in ``tf.numpy_function``), decoded in parallel (``AUTOTUNE``), batched and prefetched (a fixed number of
batches); only the paths are held in memory, the images a few batches at a time.

    >>> import tempfile; from PIL import Image; root = Path(tempfile.mkdtemp())
    >>> for i in range(5):
    ...     Image.new("RGB", (40, 30), (50 * i, 0, 0)).save(root / f"{i}.png")
    >>> ds = image_dataset([root / f"{i}.png" for i in range(5)], [0, 1, 0, 1, 0], 16, batch_size=2)
    >>> [(tuple(x.shape), y.numpy().tolist()) for x, y in ds]
    [((2, 16, 16, 3), [0, 1]), ((2, 16, 16, 3), [0, 1]), ((1, 16, 16, 3), [0])]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from ftcore.data.sharding import shard
from ftcore.data.split import Split
from ftcore.errors import EmptyDataError
from ftcore.predict import load_image, size_hw

__all__ = ["image_dataset", "split_dataset"]

_PROBE = bytes.fromhex(  # a 1x1 PNG: checks the loader's options before the pipeline is built
    "89504e470d0a1a0a0000000d49484452000000010000000108000000003a7e9b55"
    "0000000a49444154789c636000000002000148afa4710000000049454e44ae426082"
)


def image_dataset(
    paths: Sequence[str | os.PathLike],
    labels: Sequence[int],
    size: int | Sequence[int],
    *,
    preprocessing: str = "mobilenet",
    fit: str = "squash",
    resample: str = "bilinear",
    batch_size: int = 32,
    shuffle: bool = False,
    seed: int = 0,
    drop_remainder: bool = False,
    num_parallel_calls: int = tf.data.AUTOTUNE,
    prefetch: int = 2,
) -> tf.data.Dataset:
    """Batches of ``(float32 [B, H, W, 3], int32 [B])``; ``shuffle`` reshuffles the paths each
    epoch from ``seed`` (the order is the same on every run). Options as :func:`load_image`.

    Memory: the paths, ``prefetch`` finished batches and the batches in decode (tf.data fuses
    map and batch: about two, plus one image per core with ``AUTOTUNE``)."""
    hw = size_hw(size)
    if len(paths) != len(labels):
        raise ValueError(f"{len(paths)} paths but {len(labels)} labels")
    if not paths:
        raise EmptyDataError("no image files given: expected at least one path")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if prefetch < 1:
        raise ValueError(f"prefetch must be at least 1 batch, got {prefetch}")
    load_image(_PROBE, hw, preprocessing, fit, resample)  # bad options fail here, not in a worker
    names = tf.constant([os.fsencode(p) for p in paths])
    ds = tf.data.Dataset.from_tensor_slices((names, tf.constant(labels, tf.int32)))
    if shuffle:
        ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)

    def decode(path: bytes) -> np.ndarray:
        return load_image(os.fsdecode(path), hw, preprocessing, fit, resample)

    def load(path, label):
        image = tf.numpy_function(decode, [path], tf.float32, stateful=False)
        return tf.ensure_shape(image, (*hw, 3)), label

    ds = ds.map(load, num_parallel_calls=num_parallel_calls, deterministic=True)
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(prefetch)


def split_dataset(
    split: Split,
    root: str | os.PathLike,
    which: str,
    size: int | Sequence[int],
    *,
    num_workers: int = 1,
    worker_index: int = 0,
    **kwargs,
) -> tf.data.Dataset:
    """:func:`image_dataset` of one split's files under ``root`` (``which``: "train",
    "validation", "test"), this worker's shard only (:func:`~ftcore.data.sharding.shard`)."""
    files = split.subset(which)
    if not files:
        raise EmptyDataError(
            f"the {which} split has no files (its fraction is {split.fractions[which]:g})"
        )
    files = shard(files, num_workers, worker_index)
    root = Path(root)
    return image_dataset([root / f.path for f in files], [f.label for f in files], size, **kwargs)
