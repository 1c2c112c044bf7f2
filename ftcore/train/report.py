"""``report.json`` of a training run: the configuration, the classes and their counts per split,
the files skipped and found twice, where the weights came from, the per-stage history, the
best epoch, the validation (and test) metrics, the accuracy gate and the exports.

    >>> best_of([("head", {"loss": [0.9, 0.5], "val_loss": [0.8, 0.6]}),
    ...          ("unfreeze", {"loss": [0.4], "val_loss": [0.7]})])
    {'monitor': 'val_loss', 'value': 0.6, 'stage': 'head', 'epoch_in_stage': 2, 'epoch_overall': 2}
"""

from __future__ import annotations

import json

from ftcore.train.run_folder import RunFolder, write_readable

__all__ = ["FORMAT", "VERSION", "best_of", "write_report"]

FORMAT, VERSION = "ftcore-train-report", 1


def best_of(stages: list) -> dict | None:
    """The best epoch (lowest ``val_loss``, else ``loss``; epochs counted from 1), as the
    evaluate wing's :func:`~ftcore.evaluate.best_epoch` finds it; ``None`` without history."""
    from ftcore.evaluate import best_epoch, history

    if not stages:
        return None
    h = history(stages)
    monitor = "val_loss" if any("val_loss" in s.metrics for s in h) else "loss"
    index, stage, value = best_epoch(h, monitor)
    before = 0
    for s in h:
        if s.name == stage:
            break
        before += s.epochs
    return {
        "monitor": monitor,
        "value": value,
        "stage": stage,
        "epoch_in_stage": index - before + 1,
        "epoch_overall": index + 1,
    }


def write_report(run: RunFolder, report: dict) -> dict:
    """Write ``report`` (with the format header) to ``run.report``; return what was written."""
    doc = {"format": FORMAT, "version": VERSION, **report}
    write_readable(run.report, json.dumps(doc, indent=1, default=str) + "\n")
    return doc
