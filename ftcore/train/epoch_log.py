"""One line per epoch of every stage, printed and appended to ``history.jsonl`` in the run
folder, so the per-stage history of a run survives a kill and a ``--resume``.

Each line is ``{"stage": i, "name": ..., "epoch": e, "metrics": {...}}`` (``e`` counted from 0
within its stage). The callback runs after fine_tune's own checkpoint callbacks, so a kill
between the two leaves the epoch in the checkpoint but not in the log: its history then
misses that epoch (the report shows the epochs it has).

    >>> import tempfile; path = Path(tempfile.mkdtemp()) / "history.jsonl"
    >>> _ = path.write_text('{"stage": 0, "name": "head", "epoch": 0, "metrics": {"loss": 1.0}}\\n'
    ...                     '{"stage": 0, "name": "head", "epoch": 0, "metrics": {"loss": 0.9}}\\n')
    >>> read_history(path)
    [('head', {'loss': [0.9]})]
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import keras

__all__ = ["EpochLog", "first_stage_to_run", "read_history"]


def first_stage_to_run(stages: Sequence, state: dict | None) -> int:
    """The index of the first stage ``fine_tune(resume=True)`` trains from checkpoint ``state``
    (``{"stage", "epoch"}``; ``None``: no checkpoint, stage 0)."""
    if state is None:
        return 0
    i = int(state["stage"])
    if i < len(stages) and int(state["epoch"]) >= stages[i].epochs:
        i += 1
    return i


class EpochLog(keras.callbacks.Callback):
    """Record and print every epoch; ``first`` is the stage index of the first ``fit``."""

    def __init__(self, path: Path, stages: Sequence, first: int, log: Callable[[str], None]):
        super().__init__()
        self.path, self.stages, self.index, self.log = Path(path), list(stages), first - 1, log

    def on_train_begin(self, logs=None):
        self.index += 1

    def on_epoch_end(self, epoch, logs=None):
        stage = self.stages[self.index]
        metrics = {k: float(v) for k, v in (logs or {}).items()}
        record = {"stage": self.index, "name": stage.name, "epoch": int(epoch), "metrics": metrics}
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())
        shown = "  ".join(f"{k} {v:.4f}" for k, v in sorted(metrics.items()))
        self.log(
            f"stage {self.index + 1}/{len(self.stages)} ({stage.name}) "
            f"epoch {epoch + 1}/{stage.epochs}: {shown}"
        )


def read_history(path: Path) -> list[tuple[str, dict[str, list[float]]]]:
    """``[(stage name, {metric: [value per epoch]})]`` from ``history.jsonl`` (the last record
    of an epoch wins; stages in order, epochs sorted)."""
    if not Path(path).is_file():
        return []
    by_key: dict[tuple[int, int], dict] = {}
    lines = [line for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    for n, line in enumerate(lines):
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            if n == len(lines) - 1:  # the line a kill cut short
                break
            raise
        by_key[r["stage"], r["epoch"]] = r
    stages: dict[int, tuple[str, dict[str, list[float]]]] = {}
    for (i, _), r in sorted(by_key.items()):
        name, metrics = stages.setdefault(i, (r["name"], {}))
        for k, v in r["metrics"].items():
            metrics.setdefault(k, []).append(v)
    return [stages[i] for i in sorted(stages)]
