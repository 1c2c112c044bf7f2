"""The train wing: ``ftcore train DIR`` as functions, above the data, keras, evaluate and
export wings.

- :mod:`~ftcore.train.config`: the options (:class:`TrainConfig`), checked up front;
- :mod:`~ftcore.train.run_folder`: the run folder's files, no overwrite, the ``FAILED`` marker;
- :mod:`~ftcore.train.backbone`: a store name or a ``keras.applications`` name + weights file;
- :mod:`~ftcore.train.model`: cut, head and stages, checked before anything is written;
- :mod:`~ftcore.train.epoch_log`: one line per epoch, kept in ``history.jsonl`` across resumes;
- :mod:`~ftcore.train.steps`: arrays, the ``fine_tune`` call, evaluation, exports;
- :mod:`~ftcore.train.report`: ``report.json`` and the best epoch;
- :mod:`~ftcore.train.workflow`: :func:`train`, the whole run.

    >>> import ftcore.train
    >>> ftcore.train.train.__module__
    'ftcore.train.workflow'
"""

from __future__ import annotations

import importlib

_API = {
    "TrainConfig": "config",
    "RunFolder": "run_folder",
    "STORE_BACKBONES": "backbone",
    "AccuracyGateError": "workflow",
    "train": "workflow",
}

__all__ = sorted(_API)


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'ftcore.train' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"ftcore.train.{_API[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
