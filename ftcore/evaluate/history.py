"""A training history: a list of stages, each a name and its per-epoch metrics.

The per-epoch dict is what Keras' ``model.fit(...).history`` gives for one stage:
``{"loss": [...], "accuracy": [...], "val_loss": [...], ...}``, one value per epoch.

>>> h = history([("head", {"loss": [1.0, 0.6], "val_loss": [0.9, 0.7]}),
...              ("fine-tune", {"loss": [0.5, 0.4], "val_loss": [0.5, 0.6]})])
>>> [s.name for s in h], best_epoch(h)
(['head', 'fine-tune'], (2, 'fine-tune', 0.5))
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ftcore.errors import FtcoreError, MismatchError


class InvalidHistoryError(FtcoreError, ValueError):
    """A history that is not a list of named stages with one value per epoch per metric."""


@dataclass(frozen=True)
class StageHistory:
    """One stage: its name and ``{metric: [value per epoch]}``."""

    name: str
    metrics: dict[str, list[float]]

    @property
    def epochs(self) -> int:
        return len(next(iter(self.metrics.values()))) if self.metrics else 0


def _stage(name, metrics, where: str) -> StageHistory:
    if not isinstance(name, str) or not name:
        raise InvalidHistoryError(f"{where}: a stage name must be a non-empty string, got {name!r}")
    metrics = getattr(metrics, "history", metrics)  # a keras.callbacks.History
    if not isinstance(metrics, Mapping) or not metrics:
        raise InvalidHistoryError(
            f"stage {name!r}: expected {{metric: [value per epoch]}}, got {metrics!r}"
        )
    out = {}
    for m, values in metrics.items():
        try:
            out[str(m)] = [float(v) for v in values]
        except (TypeError, ValueError):
            raise InvalidHistoryError(
                f"stage {name!r}, metric {m!r}: expected numbers per epoch, got {values!r}"
            ) from None
    lengths = {m: len(v) for m, v in out.items()}
    if len(set(lengths.values())) != 1 or 0 in lengths.values():
        raise InvalidHistoryError(
            f"stage {name!r}: every metric needs one value per epoch, got lengths {lengths}"
        )
    return StageHistory(name, out)


def history(stages: Sequence) -> list[StageHistory]:
    """Check and normalize ``[(name, per-epoch dict or Keras History), ...]`` (or
    :class:`StageHistory` items) into a list of :class:`StageHistory`."""
    if isinstance(stages, (str, Mapping)) or not stages:
        raise InvalidHistoryError(f"a history is a non-empty list of stages, got {stages!r}")
    out = []
    for i, s in enumerate(stages):
        name, metrics = (s.name, s.metrics) if isinstance(s, StageHistory) else s
        out.append(_stage(name, metrics, f"stage {i}"))
    names = [s.name for s in out]
    if len(set(names)) != len(names):
        raise InvalidHistoryError(f"stage names must be unique, got {names}")
    return out


def best_epoch(
    stages: Sequence[StageHistory], monitor: str = "val_loss", mode: str = "min"
) -> tuple[int, str, float]:
    """``(epoch over all stages, counted from 0; its stage; the value)`` where ``monitor``
    is best (the first such epoch). NaN epochs never win."""
    if mode not in ("min", "max"):
        raise InvalidHistoryError(f"mode must be 'min' or 'max', got {mode!r}")
    series = [(s.name, v) for s in stages for v in s.metrics.get(monitor, [None] * s.epochs)]
    if all(v is None for _, v in series):
        have = sorted({m for s in stages for m in s.metrics})
        raise MismatchError(f"no stage records {monitor!r}; recorded: {have}")
    sign = 1 if mode == "min" else -1
    best = min(
        (i for i, (_, v) in enumerate(series) if v is not None and not math.isnan(v)),
        key=lambda i: sign * series[i][1],
        default=None,
    )
    if best is None:
        raise InvalidHistoryError(f"every value of {monitor!r} is NaN")
    return best, series[best][0], series[best][1]
