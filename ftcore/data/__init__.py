"""The data wing: a folder of class subfolders -> checked files, a seeded stratified split kept
in a split file, and streaming ``tf.data`` input decoded like ``ftcore predict``.

- :mod:`~ftcore.data.folder`: class names and image files, their sha256, duplicates;
- :mod:`~ftcore.data.checks`: every image decoded once; the bad ones with their reason;
- :mod:`~ftcore.data.folder_dataset`: :func:`load_folder` = scan + checks (``skip_bad``);
- :mod:`~ftcore.data.split`, :mod:`~ftcore.data.split_file`: the split and its file;
- :mod:`~ftcore.data.sharding`: the file list of one worker;
- :mod:`~ftcore.data.pipeline`, :mod:`~ftcore.data.adapter`: ``tf.data`` input.

Names are imported on first use (the scan and split need no TensorFlow).

    >>> import ftcore.data
    >>> ftcore.data.make_split.__module__
    'ftcore.data.split'
"""

from __future__ import annotations

import importlib

_API = {
    "IMAGE_SUFFIXES": "folder",
    "ImageFile": "folder",
    "FolderScan": "folder",
    "scan_folder": "folder",
    "MIN_SIZE": "checks",
    "check_image": "checks",
    "check_images": "checks",
    "load_folder": "folder_dataset",
    "BadFile": "errors",
    "BadImagesError": "errors",
    "SplitMismatchError": "errors",
    "SPLITS": "split",
    "Split": "split",
    "make_split": "split",
    "read_split": "split_file",
    "write_split": "split_file",
    "shard": "sharding",
    "worker_from_tf_config": "sharding",
    "image_dataset": "pipeline",
    "split_dataset": "pipeline",
    "adapt_dataset": "adapter",
}

__all__ = sorted(_API)


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'ftcore.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"ftcore.data.{_API[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
