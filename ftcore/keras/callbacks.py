"""Callbacks of the fine-tuning loop: atomic best/latest checkpoints and TensorBoard events.

ftcore keeps its own checkpoint callbacks because Keras' ``ModelCheckpoint`` and
``BackupAndRestore`` cannot serve cached-feature head stages (the model being fit is the
head alone, while the checkpoint must hold the full model) and do not write atomically.
"""

from __future__ import annotations

import os
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
