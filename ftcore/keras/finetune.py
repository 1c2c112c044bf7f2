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
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import keras
import numpy as np
import tensorflow as tf

from ftcore.errors import FtcoreError
from ftcore.keras.augment import augmentation
from ftcore.keras.callbacks import (
    BestCheckpoint,
    BestEpoch,
    BestSoFar,
    EarlyStopping,
    LatestCheckpoint,
    TensorBoardLogger,
    default_histogram_layers,
)
from ftcore.keras.class_weights import class_weight_vector
from ftcore.keras.compile_guard import CompileGuard, compile_model
from ftcore.keras.feature_cache import fit_features
from ftcore.keras.feature_store import array_key, feature_key, store_features
from ftcore.keras.inputs import Data, check_data, class_ids
from ftcore.keras.losses import smoothed_loss
from ftcore.keras.multi_worker import allow_multi_worker, is_multi_worker
from ftcore.keras.options import Checkpointing, FitOptions, Logging, from_keywords
from ftcore.keras.prefix_cache import PrefixPlan, plan_prefix
from ftcore.keras.progress import EpochProgress, batch_count
from ftcore.keras.progress import Progress as Bar
from ftcore.keras.resume import (
    Progress,
    read_latest,
    restore_optimizer,
    restore_weights,
    write_latest,
)
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
    """The fine-tuned model (the one passed in), one :class:`StageResult` per stage and, with
    validation data, where the best ``val_loss`` came from (the weights the model ends with
    when ``FitOptions.restore_best``; None if no epoch ran since a resume)."""

    model: keras.Model
    stages: list[StageResult] = field(default_factory=list)
    best: BestEpoch | None = None


def _in_scope(model: keras.Model, strategy) -> bool:
    return all(strategy.extended.variable_created_in_scope(v.value) for v in model.weights)


def fine_tune(
    model: keras.Model,
    x: np.ndarray | tf.data.Dataset,
    y: np.ndarray | None = None,
    stages: Sequence[Stage] | None = None,
    fit: FitOptions | None = None,
    *,
    checkpointing: Checkpointing | None = None,
    logging: Logging | None = None,
    strategy: tf.distribute.Strategy | None = None,
    **keywords,
) -> FineTuneResult:
    """Train ``model`` (in place) through ``stages``; see the module docstring for an example.

    - ``x, y``: arrays, or ``x`` a ``tf.data.Dataset`` of ``(input, label)`` batches and
      ``y=None`` (``fine_tune(model, train_ds, stages=[...], fit=FitOptions(
      validation_data=val_ds))``). A dataset is streamed: uncached stages fit on it as it
      comes (its own order and shuffling), cached stages extract its features once
      (:mod:`ftcore.keras.feature_store`; ``FitOptions.shuffle`` then shuffles them).

    - Every stage sets its trainable flags, then compiles a fresh optimizer (no stale state).
    - ``fit``, ``checkpointing``, ``logging``: see :mod:`ftcore.keras.options`. The older
      keywords (``batch_size=``, ``validation_data=``, ``checkpoint_dir=``, ``resume=``,
      ``log_dir=``, ``verbose=``...) set the same fields (:data:`~ftcore.keras.options.KEYWORDS`).
    - ``strategy``: a ``tf.distribute`` strategy; a model built outside its scope is cloned
      into it, trained there, and its weights copied back into ``model``. Under a
      ``MultiWorkerMirroredStrategy`` (one process per worker, same call, ``TF_CONFIG``) every
      worker ends with the same weights (see :mod:`ftcore.keras.multi_worker`).

    Raises EmptyDataError, MismatchError (input/label/head shapes, a resumed checkpoint that
    does not fit), FtcoreError (caching forced but invalid).
    """
    if stages is None:
        raise TypeError("fine_tune needs stages=[...] (e.g. [head_stage(), unfreeze_stage(...)])")
    fit, checkpointing, logging = from_keywords(fit, checkpointing, logging, keywords)
    train, default_loss = check_data(model, x, y, "training", fit.batch_size)
    val = None
    if fit.validation_data is not None:
        v = fit.validation_data
        v = (v, None) if isinstance(v, tf.data.Dataset) else v
        val = check_data(model, *v, "validation", fit.batch_size)[0]
    n_classes = model.outputs[0].shape[-1]
    loss = fit.loss or smoothed_loss(default_loss, fit.label_smoothing, n_classes)
    fit = replace(fit, loss=loss, label_smoothing=0.0)  # the smoothing is in the loss now
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        work = model
        if strategy is not None and not _in_scope(model, strategy):
            work = keras.models.clone_model(model)
            work.set_weights(model.get_weights())
            set_trainable_flags(work, trainable_flags(model))
        result = _Loop(work, train, val, fit, checkpointing, logging).run(stages)
    if work is not model:
        model.set_weights(work.get_weights())
        set_trainable_flags(model, trainable_flags(work))
        last = stages[-1].make_optimizer(model) if stages else "sgd"
        compile_model(model, last, fit.loss, fit.metrics)
    result.model = model
    return result


@dataclass
class _Fit:
    """What one stage fits: the model (the whole one, or the head on cached features) and
    its inputs."""

    model: keras.Model
    train: Data
    val: Data | None
    cached: bool
    blockers: list[str]
    features: list = field(default_factory=list)  # cached Features to close after the stage


class _Loop:
    """The stages run one after another; one method per step, state shared across stages."""

    def __init__(self, model, train: Data, val: Data | None, fit: FitOptions, ck, log: Logging):
        self.model, self.train, self.val, self.fit, self.ck, self.log = (
            model,
            train,
            val,
            fit,
            ck,
            log,
        )
        self.best: dict = {}  # the best monitored value so far, shared by the checkpoints
        self.step, self.writers = [0], {}  # TensorBoard: epochs so far, one writer per dir
        self.layers = log.histogram_layers or default_histogram_layers(model)
        self.monitor = "val_loss" if val is not None else "loss"
        self.start_stage, self.start_epoch, self.latest = 0, 0, None
        self.best_so_far = BestSoFar()  # val_loss: early stopping and the weights restored
        n_classes = model.outputs[0].shape[-1]
        self.augment = augmentation(fit.augment, fit.augment_seed)
        self.class_weight = class_weight_vector(
            fit.class_weight, lambda: class_ids(train.labels()), n_classes
        )

    def run(self, stages: Sequence[Stage]) -> FineTuneResult:
        if self.ck is not None and self.ck.resume:
            self._resume()
        result = FineTuneResult(self.model)
        self.n_stages = len(stages)
        for i, stage in enumerate(stages):
            done = i < self.start_stage or (
                i == self.start_stage and self.start_epoch >= stage.epochs
            )
            if done:
                stage.apply(self.model)
                result.stages.append(StageResult(stage.name, {}, False, [], [], skipped=True))
            else:
                result.stages.append(self._stage(i, stage))
        result.best = self.best_so_far.where
        return result

    def _resume(self) -> None:
        self.latest = read_latest(self.ck.dir)
        if self.latest is not None:
            restore_weights(self.model, self.latest)
            progress = self.latest.progress
            self.start_stage, self.start_epoch = progress.stage, progress.epoch
            if progress.best is not None:
                self.best["value"] = progress.best
                if self.monitor == "val_loss":
                    self.best_so_far.value = progress.best  # its weights: best.keras

    def _stage(self, i: int, stage: Stage) -> StageResult:
        trained = stage.apply(self.model)
        f = self._prepare(stage)
        initial_epoch = self.start_epoch if i == self.start_stage else 0
        if self.latest is not None and i == self.start_stage and initial_epoch > 0:
            restore_optimizer(self.model, f.model, self.latest)
        cbs = self._callbacks(i, stage) + self._progress(i, stage, f.cached)
        try:
            history = self._fit(f, stage, initial_epoch, cbs)
        finally:
            for features in f.features:
                features.close()
        self._restore_best()
        if self.ck is not None:
            write_latest(self.ck.dir, self.model, Progress(i + 1, 0, self.best.get("value")))
        return StageResult(stage.name, dict(history), f.cached, f.blockers, trained)

    def _prepare(self, stage: Stage) -> _Fit:
        """Compile this stage's optimizer; with caching, the head model and its features."""
        o, model = self.fit, self.model
        plan = self._cache_plan()
        blockers = plan.blockers
        if o.cache_features is True and blockers:
            raise FtcoreError(
                f"stage {stage.name!r}: feature caching is not valid: " + "; ".join(blockers)
            )
        cached = o.cache_features in (True, "auto") and not blockers
        compile_model(model, stage.make_optimizer(model), o.loss, o.metrics)
        f = _Fit(model, self.train, self.val, cached, blockers)
        multi_worker = is_multi_worker(tf.distribute.get_strategy())
        if cached:
            base, f.model = plan.split(model)
            if multi_worker:
                allow_multi_worker(base)
            f.train = self._features(base, self.train, "train", f)
            if self.val is not None:
                f.val = self._features(base, self.val, "validation", f)
            compile_model(f.model, stage.make_optimizer(model), o.loss, o.metrics)
        if multi_worker:
            allow_multi_worker(f.model)
        return f

    def _cache_plan(self) -> PrefixPlan:
        """Where this stage's frozen prefix ends (the head, or the first trained layer if
        earlier) and why its outputs cannot be cached (:mod:`ftcore.keras.prefix_cache`).
        No size limit: features past ``FitOptions.cache_ram_bytes`` spill to disk."""
        return plan_prefix(self.model, self.fit.augment)

    def _sample_weight(self, y: np.ndarray) -> np.ndarray | None:
        """Per-example weights of cached training: each example's class weight."""
        return None if self.class_weight is None else self.class_weight[class_ids(y)]

    def _restore_best(self) -> None:
        """With ``restore_best``, the weights of the best val_loss so far (see FitOptions)."""
        if not self.fit.restore_best or self.val is None:
            return
        if self.best_so_far.weights is not None:
            self.model.set_weights(self.best_so_far.weights)
        elif np.isfinite(self.best_so_far.value) and self.ck is not None:
            best = self.ck.dir / "best.keras"  # a resumed run's best came before the resume
            if best.is_file():
                self.model.load_weights(best)

    def _features(self, base: keras.Model, data: Data, which: str, f: _Fit) -> Data:
        """``data``'s features through ``base``, in RAM or on disk (FitOptions.cache_ram_bytes)."""
        o = self.fit
        key = o.cache_key and f"{o.cache_key}/{which}"
        if not data.streamed:  # arrays name themselves, when their features may spill
            size = len(data.x) * 4 * int(np.prod(base.outputs[0].shape[1:]))
            key = array_key(data.x, data.y) if size > o.cache_ram_bytes else None
        bar = None
        if self.log.progress:  # about ten lines per extraction when not on a terminal
            if data.streamed:
                total = int(data.dataset.cardinality())
                total = total if total >= 0 else None
            else:
                total = batch_count(len(data.x), o.batch_size)
            bar = Bar(f"features ({which})", total, every=(total or 100) // 10)
        features = store_features(
            base,
            data.batches(o.batch_size),
            ram_bytes=o.cache_ram_bytes,
            key=key and feature_key(base, key),
            on_batch=bar and bar.update,
        )
        f.features.append(features)
        return Data(features.x, features.y)

    def _progress(self, i: int, stage: Stage, cached: bool) -> list:
        if not self.log.progress:
            return []
        how = "cached features" if cached else "through the base"
        label = f"stage {i + 1}/{self.n_stages} {stage.name!r} ({how})"
        return [EpochProgress(label, stage.epochs)]

    def _callbacks(self, i: int, stage: Stage) -> list:
        cbs: list = [CompileGuard()]
        if self.ck is not None:
            cbs.append(LatestCheckpoint(self.model, self.ck.dir, i, self.best))
            cbs.append(
                BestCheckpoint(self.model, self.ck.dir / "best.keras", self.monitor, self.best)
            )
        if self.val is not None:
            patience = self.fit.early_stopping_patience
            cbs.append(EarlyStopping(self.model, self.best_so_far, i, stage.name, patience))
        if self.log.tensorboard_dir is not None:
            run = f"{i}_{stage.name}"
            cbs.append(
                TensorBoardLogger(
                    self.log.tensorboard_dir, run, self.layers, self.step, self.writers
                )
            )
        return cbs + list(self.fit.callbacks)

    def _fit(self, f: _Fit, stage: Stage, initial_epoch: int, cbs: list) -> dict:
        o = self.fit
        common = {"epochs": stage.epochs, "initial_epoch": initial_epoch, "callbacks": cbs}
        if f.cached and not tf.distribute.has_strategy():
            val = f.val and (f.val.x, f.val.y)
            return fit_features(
                f.model,
                f.train.x,
                f.train.y,
                batch_size=o.batch_size,
                shuffle=o.shuffle,
                validation_data=val,
                sample_weight=self._sample_weight(f.train.y),
                **common,
            )
        x, y, batch_size = f.train.for_keras(o.batch_size)
        shuffle = o.shuffle and not f.train.streamed
        if self.augment is not None:
            x = _augmented(f.train, self.augment, o.batch_size, shuffle)
            y, batch_size, shuffle = None, None, False  # the augmented dataset is shuffled
        val = None
        if f.val is not None:
            vx, vy, _ = f.val.for_keras(o.batch_size)
            val = vx if vy is None else (vx, vy)
        return f.model.fit(
            x,
            y,
            batch_size=batch_size,
            validation_data=val,
            shuffle=shuffle,
            class_weight=None if self.class_weight is None else dict(enumerate(self.class_weight)),
            verbose=self.log.verbose,
            **common,
        ).history


def _augmented(data: Data, augment, batch_size, shuffle) -> tf.data.Dataset:
    if data.streamed:
        return data.dataset.map(lambda a, b: (augment(a), b))
    ds = tf.data.Dataset.from_tensor_slices((data.x, data.y))
    if shuffle:
        ds = ds.shuffle(len(data.x), reshuffle_each_iteration=True)
    return ds.batch(batch_size).map(lambda a, b: (augment(a), b))
