"""Deterministic sharding of a file list across workers (multi-worker training): worker ``i``
of ``n`` gets every ``n``-th file starting at ``i``, so the shards are disjoint, cover the list,
and keep its class balance.

    >>> shard(list("abcdefg"), num_workers=3, worker_index=1)
    ['b', 'e']
    >>> worker_from_tf_config('{"cluster": {"worker": ["h:1", "h:2"]}, "task": {"type": "worker", "index": 1}}')
    (2, 1)
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import TypeVar

from ftcore.errors import EmptyDataError, InvalidFileError

__all__ = ["shard", "worker_from_tf_config"]

T = TypeVar("T")


def shard(items: Sequence[T], num_workers: int, worker_index: int) -> list[T]:
    """``items[worker_index::num_workers]``, after checking the two numbers."""
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 1:
        raise ValueError(f"num_workers must be a positive integer, got {num_workers!r}")
    if isinstance(worker_index, bool) or not isinstance(worker_index, int):
        raise ValueError(f"worker_index must be an integer, got {worker_index!r}")
    if not 0 <= worker_index < num_workers:
        raise ValueError(f"worker_index must be in [0, {num_workers}), got {worker_index}")
    if len(items) < num_workers:
        raise EmptyDataError(
            f"{len(items)} files cannot be sharded across {num_workers} workers: "
            "some would get none"
        )
    return list(items)[worker_index::num_workers]


def worker_from_tf_config(tf_config: str | None = None) -> tuple[int, int]:
    """``(num_workers, worker_index)`` from ``TF_CONFIG`` (default: the environment's); the
    chief counts as worker 0 when the cluster has one. No ``TF_CONFIG``: ``(1, 0)``."""
    text = os.environ.get("TF_CONFIG", "") if tf_config is None else tf_config
    if not text.strip():
        return 1, 0
    try:
        config = json.loads(text)
        cluster, task = config["cluster"], config["task"]
        chief = len(cluster.get("chief", []))
        n = chief + len(cluster.get("worker", []))
        kind, index = task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise InvalidFileError(f"TF_CONFIG is not valid cluster JSON: {e}") from None
    if kind not in ("chief", "worker"):
        raise InvalidFileError(
            f"TF_CONFIG task type {kind!r} reads no data; expected chief or worker"
        )
    return n, index if kind == "chief" else chief + index
