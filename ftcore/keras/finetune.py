"""The fine-tuning loop: train a Keras 3 model whose head layers are named ``head_*`` through
:mod:`stages <ftcore.keras.stages>`.

Every stage sets its flags and then compiles a fresh optimizer (:mod:`ftcore.keras.compile_guard`
explains why and raises when that rule is broken). Frozen layers run in inference mode, so a
frozen BatchNormalization uses and keeps its moving statistics.

Stage 1 trains the head (SGD, lr 0.01); when nothing before the head trains or behaves
differently in training, the base runs once and the head trains on cached features
(:mod:`ftcore.keras.feature_cache`). Stage 2 unfreezes from a layer at a lower rate (1e-4),
optionally with discriminative learning rates and ``train_bn``.

    >>> import keras, numpy as np
    >>> from ftcore.keras.head import attach_head
    >>> from ftcore.keras.stages import head_stage, unfreeze_stage
    >>> base = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="c")])
    >>> model = attach_head(base, "gap", num_classes=2)
    >>> x, y = np.zeros((4, 8, 8, 3), "float32"), np.array([0, 1, 0, 1])
    >>> result = fine_tune(model, x, y, [head_stage(epochs=1), unfreeze_stage("c", epochs=1)])
    >>> [(s.name, s.cached) for s in result.stages]
    [('head', True), ('unfreeze', False)]
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from ftcore.errors import EmptyDataError, FtcoreError, MismatchError
from ftcore.keras.callbacks import (
    BestCheckpoint,
    LatestCheckpoint,
    TensorBoardLogger,
    default_histogram_layers,
    read_checkpoint,
    write_checkpoint,
)
from ftcore.keras.compile_guard import CompileGuard, compile_model
from ftcore.keras.feature_cache import cache_blockers, extract_features, fit_features, split_at_head
from ftcore.keras.multi_worker import allow_multi_worker, is_multi_worker
from ftcore.keras.stages import Stage
from ftcore.keras.trainable import set_trainable_flags, trainable_flags


@dataclass
class StageResult:
    """What one stage did: its history, whether it trained on cached features and why not."""

    name: str
    history: dict[str, list[float]]
    cached: bool
    cache_blockers: list[str]
    trained: list[str]
    skipped: bool = False


@dataclass
class FineTuneResult:
    """The fine-tuned model (the one passed in) and one :class:`StageResult` per stage."""

    model: keras.Model
    stages: list[StageResult] = field(default_factory=list)


def _check_data(model: keras.Model, x, y, what: str) -> str:
    """Validate arrays against the model; return the loss suited to the label layout."""
    x, y = np.asarray(x), np.asarray(y)
    if len(x) == 0 or len(y) == 0:
        raise EmptyDataError(f"{what} set is empty (x has {len(x)} examples, y has {len(y)})")
    if len(x) != len(y):
        raise MismatchError(f"{what} set: {len(x)} inputs but {len(y)} labels")
    want = tuple(model.inputs[0].shape[1:])
    if len(want) != x.ndim - 1 or any(
        w not in (None, g) for w, g in zip(want, x.shape[1:], strict=True)
    ):
        raise MismatchError(f"{what} inputs have shape {x.shape[1:]}, the model expects {want}")
    out = tuple(model.outputs[0].shape)
    if len(out) != 2:
        raise MismatchError(
            f"the head outputs shape {out} but {what} labels have shape {y.shape}: a "
            "classification head must output (batch, classes); add pooling/flatten/reshape"
        )
    n_cls = out[1]
    if y.ndim == 2 and y.shape[1] > 1:
        if y.shape[1] != n_cls:
            raise MismatchError(
                f"the head outputs {n_cls} classes but {what} labels are one-hot with {y.shape[1]}"
            )
        return "categorical_crossentropy"
    if y.ndim > 2 or (y.ndim == 2 and y.shape[1] != 1):
        raise MismatchError(f"{what} labels have shape {y.shape}; expected (N,) class ids")
    if not np.issubdtype(y.dtype, np.integer):
        raise MismatchError(f"{what} labels have dtype {y.dtype}; expected integer class ids")
    if y.min() < 0 or y.max() >= n_cls:
        raise MismatchError(
            f"{what} labels range {int(y.min())}..{int(y.max())} but the head outputs "
            f"{n_cls} classes (ids 0..{n_cls - 1})"
        )
    return "sparse_categorical_crossentropy"


def _in_scope(model: keras.Model, strategy) -> bool:
    return all(strategy.extended.variable_created_in_scope(v.value) for v in model.weights)


def fine_tune(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    stages: Sequence[Stage],
    *,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    batch_size: int = 32,
    loss=None,
    metrics: Sequence = ("accuracy",),
    cache_features: bool | str = "auto",
    augment: Callable | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = False,
    log_dir: str | os.PathLike | None = None,
    histogram_layers: dict[str, keras.layers.Layer] | None = None,
    strategy: tf.distribute.Strategy | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    shuffle: bool = True,
    verbose: int = 0,
) -> FineTuneResult:
    """Train ``model`` (in place) through ``stages``; see the module docstring for an example.

    - Every stage sets its trainable flags, then compiles a fresh optimizer (no stale state).
    - ``cache_features``: ``"auto"`` trains head-only stages on cached base outputs when
      :func:`ftcore.keras.feature_cache.cache_blockers` finds nothing against it (else it trains
      through the base); ``True`` raises instead of falling back; ``False`` never caches.
    - ``augment(batch) -> batch`` is applied to training inputs (and disables caching).
    - ``checkpoint_dir``: ``best.keras`` (best ``val_loss``, else ``loss``) and ``latest.npz``
      after every epoch; ``resume=True`` continues from ``latest`` (stage, epoch, optimizer).
    - ``log_dir``: TensorBoard loss/metrics per stage (``<log_dir>/<i>_<stage>``) and weight
      histograms (``<log_dir>/weights``) of ``histogram_layers`` (default: a few base layers
      and the head).
    - ``strategy``: a ``tf.distribute`` strategy; a model built outside its scope is cloned
      into it, trained there, and its weights copied back into ``model``. Under a
      ``MultiWorkerMirroredStrategy`` (one process per worker, same call, ``TF_CONFIG``) every
      worker ends with the same weights (see :mod:`ftcore.keras.multi_worker`).

    Raises EmptyDataError, MismatchError (input/label/head shapes), FtcoreError (caching
    forced but invalid).
    """
    default_loss = _check_data(model, x, y, "training")
    if validation_data is not None:
        _check_data(model, *validation_data, "validation")
    loss = loss or default_loss
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        work = model
        if strategy is not None and not _in_scope(model, strategy):
            work = keras.models.clone_model(model)
            work.set_weights(model.get_weights())
            set_trainable_flags(work, trainable_flags(model))
        options = _Options(
            validation_data=validation_data,
            batch_size=batch_size,
            loss=loss,
            metrics=tuple(metrics),
            cache_features=cache_features,
            augment=augment,
            checkpoint_dir=Path(checkpoint_dir) if checkpoint_dir is not None else None,
            resume=resume,
            log_dir=Path(log_dir) if log_dir is not None else None,
            histogram_layers=histogram_layers,
            callbacks=tuple(callbacks),
            shuffle=shuffle,
            verbose=verbose,
        )
        result = _run_stages(work, x, y, stages, options)
    if work is not model:
        model.set_weights(work.get_weights())
        set_trainable_flags(model, trainable_flags(work))
        compile_model(model, stages[-1].make_optimizer(model) if stages else "sgd", loss, metrics)
    result.model = model
    return result


@dataclass(frozen=True)
class _Options:
    """:func:`fine_tune`'s keyword options, handed to the loop as one value."""

    validation_data: tuple[np.ndarray, np.ndarray] | None
    batch_size: int
    loss: object
    metrics: tuple
    cache_features: bool | str
    augment: Callable | None
    checkpoint_dir: Path | None
    resume: bool
    log_dir: Path | None
    histogram_layers: dict[str, keras.layers.Layer] | None
    callbacks: tuple
    shuffle: bool
    verbose: int


def _run_stages(model, x, y, stages: Sequence[Stage], o: _Options) -> FineTuneResult:
    result = FineTuneResult(model)
    ckpt = o.checkpoint_dir
    if o.resume and ckpt is None:
        raise TypeError("resume=True needs checkpoint_dir")
    best: dict = {}
    start_stage, start_epoch, saved = 0, 0, None
    if o.resume and ckpt is not None:
        found = read_checkpoint(ckpt)
        if found is not None:
            state, saved = found
            start_stage, start_epoch = state["stage"], state["epoch"]
            if state.get("best") is not None:
                best["value"] = state["best"]
            weights = [
                saved[k]
                for k in sorted((k for k in saved if k[0] == "w"), key=lambda k: int(k[1:]))
            ]
            try:
                model.set_weights(weights)
            except ValueError as e:
                raise MismatchError(
                    f"checkpoint {ckpt / 'latest.npz'} does not fit model {model.name!r}: {e}"
                ) from e
    step, writers = [0], {}
    layers = o.histogram_layers or default_histogram_layers(model)
    monitor = "val_loss" if o.validation_data is not None else "loss"
    for i, stage in enumerate(stages):
        if i < start_stage or (i == start_stage and start_epoch >= stage.epochs):
            stage.apply(model)
            result.stages.append(StageResult(stage.name, {}, False, [], [], skipped=True))
            continue
        trained = stage.apply(model)
        blockers = cache_blockers(model, o.augment)
        if o.cache_features is True and blockers:
            raise FtcoreError(
                f"stage {stage.name!r}: feature caching is not valid: " + "; ".join(blockers)
            )
        cached = o.cache_features in (True, "auto") and not blockers
        compile_model(model, stage.make_optimizer(model), o.loss, o.metrics)
        fit_model, fx, fval = model, x, o.validation_data
        multi_worker = is_multi_worker(tf.distribute.get_strategy())
        if cached:
            base, fit_model = split_at_head(model)
            if multi_worker:
                allow_multi_worker(base)
            fx = extract_features(base, x, o.batch_size)
            if o.validation_data is not None:
                fval = (
                    extract_features(base, o.validation_data[0], o.batch_size),
                    o.validation_data[1],
                )
            compile_model(fit_model, stage.make_optimizer(model), o.loss, o.metrics)
        if multi_worker:
            allow_multi_worker(fit_model)
        initial_epoch = start_epoch if i == start_stage else 0
        if saved is not None and i == start_stage and initial_epoch > 0:
            _restore_optimizer(fit_model, saved)
        cbs: list = [CompileGuard()]
        if ckpt is not None:
            cbs.append(LatestCheckpoint(model, ckpt, i, best))
            cbs.append(BestCheckpoint(model, ckpt / "best.keras", monitor, best))
        if o.log_dir is not None:
            cbs.append(TensorBoardLogger(o.log_dir, f"{i}_{stage.name}", layers, step, writers))
        cbs.extend(o.callbacks)
        if cached and not tf.distribute.has_strategy():
            history = fit_features(
                fit_model,
                fx,
                y,
                epochs=stage.epochs,
                batch_size=o.batch_size,
                initial_epoch=initial_epoch,
                shuffle=o.shuffle,
                validation_data=fval,
                callbacks=cbs,
            )
        else:
            train = (
                fx if o.augment is None else _augmented(fx, y, o.augment, o.batch_size, o.shuffle)
            )
            history = fit_model.fit(
                train,
                y if o.augment is None else None,
                batch_size=o.batch_size if o.augment is None else None,
                epochs=stage.epochs,
                initial_epoch=initial_epoch,
                validation_data=fval,
                shuffle=o.shuffle and o.augment is None,  # the augmented dataset is shuffled
                callbacks=cbs,
                verbose=o.verbose,
            ).history
        if ckpt is not None:
            write_checkpoint(ckpt, model, None, i + 1, 0, best)
        result.stages.append(StageResult(stage.name, dict(history), cached, blockers, trained))
    return result


def _restore_optimizer(fit_model: keras.Model, saved: dict) -> None:
    opt = fit_model.optimizer
    if not opt.built:
        opt.build(fit_model.trainable_variables)
    values = [saved[f"o{i}"] for i in range(len(opt.variables)) if f"o{i}" in saved]
    if len(values) != len(opt.variables):
        raise MismatchError(
            f"checkpoint holds {len(values)} optimizer variables, the stage's optimizer has "
            f"{len(opt.variables)}: it was written by a different stage plan"
        )
    for var, value in zip(opt.variables, values, strict=True):
        var.assign(value)


def _augmented(x, y, augment, batch_size, shuffle) -> tf.data.Dataset:
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(len(x), reshuffle_each_iteration=True)
    return ds.batch(batch_size).map(lambda a, b: (augment(a), b))
