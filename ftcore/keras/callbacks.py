"""Callbacks of the fine-tuning loop: atomic best/latest checkpoints, TensorBoard events,
early stopping with the best weights kept across stages.

ftcore keeps its own checkpoint callbacks because Keras' ``ModelCheckpoint`` and
``BackupAndRestore`` cannot serve cached-feature head stages (the model being fit is the
head alone, while the checkpoint must hold the full model) and do not write atomically.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from ftcore.atomic import atomic_path
from ftcore.keras.head import in_head
from ftcore.keras.resume import Progress, write_latest
from ftcore.keras.trainable import leaves


def save_model_atomic(model: keras.Model, path: str | os.PathLike) -> Path:
    """``model.save(path)`` (``.keras``) such that ``path`` is complete or untouched."""
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
    return Path(path)


class BestCheckpoint(keras.callbacks.Callback):
    """Save ``target`` (the full model, also while a head-only model trains) to ``path``
    whenever ``monitor`` improves; ``best`` is shared across stages."""

    def __init__(self, target: keras.Model, path: Path, monitor: str, best: dict):
        super().__init__()
        self.target, self.path, self.monitor, self.best = target, Path(path), monitor, best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and value < self.best.get("value", np.inf):
            self.best["value"] = float(value)
            save_model_atomic(self.target, self.path)


class LatestCheckpoint(keras.callbacks.Callback):
    """After each epoch, write ``latest.npz`` (:mod:`ftcore.keras.resume`): the full model's
    weights, the optimizer state of the model being fit and the progress."""

    def __init__(self, target: keras.Model, directory: Path, stage: int, best: dict):
        super().__init__()
        self.target, self.dir, self.stage, self.best = target, Path(directory), stage, best

    def on_epoch_end(self, epoch, logs=None):
        progress = Progress(self.stage, epoch + 1, self.best.get("value"))
        write_latest(self.dir, self.target, progress, fitted=self.model)


class TensorBoardLogger(keras.callbacks.Callback):
    """Write TensorBoard event files (``tf.summary``) for the whole model across stages.

    Not ``keras.callbacks.TensorBoard``: in a cached-feature head stage the model being fit is
    the head alone, and its histograms would miss the frozen base that these show not moving.

    Per epoch: scalars ``epoch_<metric>`` under ``<log_dir>/<run>/train`` and
    ``.../validation``; histograms of ``layers``' weights at the start and after every epoch
    under ``<log_dir>/weights``, tagged ``frozen/<layer>/<var>`` or ``trainable/<layer>/<var>``,
    so frozen layers can be seen not to move. ``step`` (a one-item list) counts epochs
    across stages.
    """

    def __init__(
        self,
        log_dir: Path,
        run: str,
        layers: dict[str, keras.layers.Layer],
        step: list[int],
        writers: dict,
    ) -> None:
        super().__init__()
        self.log_dir, self.run, self.layers, self.step = Path(log_dir), run, layers, step
        self.writers = writers  # shared across stages: one writer per directory

    def _writer(self, sub: str):
        key = str(self.log_dir / sub)
        if key not in self.writers:
            self.writers[key] = tf.summary.create_file_writer(key)
        return self.writers[key]

    def _histograms(self) -> None:
        writer = self._writer("weights")
        with writer.as_default():
            for path, layer in self.layers.items():
                state = "trainable" if layer.trainable else "frozen"
                for v in layer.weights:
                    tf.summary.histogram(f"{state}/{path}/{v.name}", v.numpy(), step=self.step[0])
        writer.flush()

    def on_train_begin(self, logs=None):
        if self.step[0] == 0:
            self._histograms()

    def on_epoch_end(self, epoch, logs=None):
        self.step[0] += 1
        for name, value in (logs or {}).items():
            sub, tag = ("validation", name[4:]) if name.startswith("val_") else ("train", name)
            writer = self._writer(f"{self.run}/{sub}")
            with writer.as_default():
                tf.summary.scalar(f"epoch_{tag}", float(value), step=epoch)
            writer.flush()
        self._histograms()


def default_histogram_layers(model: keras.Model) -> dict[str, keras.layers.Layer]:
    """The first two and the last weighted base layers plus every weighted head layer."""
    weighted = [(p, layer) for p, layer in leaves(model) if layer.weights]
    base = [(p, lr) for p, lr in weighted if not in_head(model, p)]
    head = [(p, lr) for p, lr in weighted if in_head(model, p)]
    return dict(base[:2] + base[-1:] + head)


@dataclass(frozen=True)
class BestEpoch:
    """Where the best validation loss of a run came from: ``epoch`` (counted from 1) of stage
    ``stage`` (its index in the plan) named ``name``."""

    stage: int
    name: str
    epoch: int
    val_loss: float


@dataclass
class BestSoFar:
    """The best ``val_loss`` over all stages so far, the full model's weights then, where."""

    value: float = np.inf
    weights: list | None = None
    where: BestEpoch | None = None


class EarlyStopping(keras.callbacks.Callback):
    """Track the best ``val_loss`` across stages (``best`` is shared) with ``target``'s weights
    (the full model, also while a head-only model trains); stop the stage after ``patience``
    epochs without a new best (None: never)."""

    def __init__(self, target, best: BestSoFar, stage: int, name: str, patience: int | None):
        super().__init__()
        self.target, self.best, self.stage, self.name = target, best, stage, name
        self.patience, self.wait = patience, 0

    def on_train_begin(self, logs=None):
        self.wait = 0

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get("val_loss")
        if value is None:
            return
        if value < self.best.value:
            self.best.value, self.best.weights = float(value), self.target.get_weights()
            self.best.where = BestEpoch(self.stage, self.name, epoch + 1, float(value))
            self.wait = 0
            return
        self.wait += 1
        if self.patience is not None and self.wait >= self.patience:
            self.model.stop_training = True
