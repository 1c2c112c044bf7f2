"""The steps of a training run: the training on streamed data, the evaluation of the best
model, the exports.

:func:`fit` streams the training and validation splits through the data wing's pipeline
(:func:`ftcore.data.split_dataset`, the same decode, resize and scaling as ``ftcore
predict``): memory is bounded by a few batches and the head-only feature cache, which spills
to disk under the cache folder (keyed by :func:`cache_key`). Only the validation and test
splits (for their metrics) and, with ``--int8``, the training split (calibration) are loaded
as arrays by :func:`arrays`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ftcore.train.config import TrainConfig
from ftcore.train.run_folder import RunFolder, copy_readable, write_readable

__all__ = ["arrays", "cache_key", "dataset", "evaluate", "export", "fit", "load_best"]


def dataset(split, root: Path, which: str, config: TrainConfig, shuffle: bool = False):
    """Split ``which`` streamed in batches (``shuffle``: reshuffled each epoch from the seed)."""
    from ftcore.data import split_dataset

    return split_dataset(
        split,
        root,
        which,
        config.image_size,
        preprocessing=config.preprocessing,
        batch_size=config.batch_size,
        shuffle=shuffle,
        seed=config.seed,
    )


def arrays(split, root: Path, which: str, config: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """The images and labels of split ``which`` (file order), through the data pipeline."""
    batches = [(x.numpy(), y.numpy()) for x, y in dataset(split, root, which, config)]
    return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])


def cache_key(run: RunFolder, config: TrainConfig) -> str:
    """Names the run's data for the feature cache: the split file's sha256 with the image
    size, preprocessing and backbone (name, alpha, weights file, cut)."""
    digest = hashlib.sha256(run.split.read_bytes()).hexdigest()
    parts = (config.image_size, config.preprocessing, config.backbone, config.alpha, config.cut)
    weights = Path(config.weights).name if config.weights else None
    return "-".join(str(p) for p in (f"split-{digest[:16]}", *parts, weights))


def fit(model, stages, split, root: Path, run: RunFolder, config: TrainConfig, callbacks: list):
    """Train ``model`` through ``stages`` on the streamed splits, with checkpoints and
    TensorBoard logs in ``run``; returns :class:`ftcore.keras.FineTuneResult`."""
    from ftcore.keras import fine_tune

    train = dataset(split, root, "train", config, shuffle=True)
    validation = dataset(split, root, "validation", config) if split.subset("validation") else None
    return fine_tune(  # THE call site
        model,
        train,
        stages=stages,
        validation_data=validation,
        batch_size=config.batch_size,
        cache_key=cache_key(run, config),
        class_weight=None if config.class_weights == "none" else config.class_weights,
        augment=config.augment,
        augment_seed=config.seed,
        label_smoothing=config.label_smoothing,
        early_stopping_patience=config.early_stopping,
        checkpoint_dir=run.checkpoints,
        resume=config.resume,
        log_dir=run.logs,
        callbacks=callbacks,
        verbose=2 if config.verbose else 0,
    )


def load_best(run: RunFolder, model):
    """The best model of the run (fine_tune's ``best.keras``: lowest validation loss over all
    stages, else lowest training loss), copied to the run folder as ``best.keras``."""
    import keras

    saved = run.checkpoints / "best.keras"
    if not saved.is_file():  # no epoch improved on a finite loss (NaN throughout)
        from ftcore.keras import save_model_atomic

        save_model_atomic(model, saved)
    copy_readable(saved, run.best)
    return keras.models.load_model(run.best, compile=False)


def evaluate(model, data: dict, which: str, class_names, batch_size: int) -> dict:
    """The evaluate wing's metrics of ``model`` on split ``which`` (report.json-ready)."""
    from ftcore.evaluate import evaluate_scores

    x, y = data[which]
    scores = model.predict(x, batch_size=batch_size, verbose=0)
    return evaluate_scores(y, scores, list(class_names)).to_dict()


def export(model, data: dict, run: RunFolder, config: TrainConfig, class_names, log: Callable):
    """``model.pb`` and ``model.tflite`` (each verified against ``model``, with its sidecar),
    and ``labels.txt``; ``--int8``: calibrated on the training split, checked on validation."""
    from ftcore.export import litert, pb

    options = {
        "labels": list(class_names),
        "preprocessing": config.preprocessing,
        "source": f"ftcore train {config.data_dir} (run {run.path})",
    }
    log(f"exporting {run.pb} (frozen, optimized, checked against the Keras model) ...")
    pb_sidecar = pb.export_keras(model, run.pb, **options)
    int8 = None
    if config.int8:
        int8 = litert.Int8(data["train"][0], data["validation"][0])
        log("int8: calibrating on the training split, checking on the validation split ...")
    log(f"exporting {run.tflite} (checked in the LiteRT interpreter) ...")
    tfl_sidecar = litert.export_keras(model, run.tflite, int8=int8, **options)
    write_readable(run.labels, "".join(f"{name}\n" for name in class_names))
    return {
        "pb": {"path": run.pb.name, "check": pb_sidecar.check},
        "tflite": {"path": run.tflite.name, "check": tfl_sidecar.check},
        "labels": run.labels.name,
    }
