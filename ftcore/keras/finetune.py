"""The fine-tuning loop: train a Keras 3 model whose head layers are named ``head_*`` through
:mod:`stages <ftcore.keras.stages>`.

Every stage sets its flags and then compiles a fresh optimizer (:mod:`ftcore.keras.compile_guard`
explains why and raises when that rule is broken). Frozen layers run in inference mode, so a
frozen BatchNormalization uses and keeps its moving statistics.

Stage 1 trains the head (SGD, lr 0.01); when nothing before the head trains or behaves
differently in training, the base runs once and the head trains on cached features
(:mod:`ftcore.keras.feature_cache`). Stage 2 unfreezes from a layer at a lower rate (1e-4),
optionally with discriminative learning rates and ``train_bn``; the same holds for the frozen
layers before the first one it trains (:mod:`ftcore.keras.prefix_cache`). ``StageResult``
says whether a stage was cached and, if not, why.

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

from ftcore.errors import EmptyDataError, FtcoreError, MismatchError
from ftcore.keras.callbacks import (
    BestCheckpoint,
    LatestCheckpoint,
    TensorBoardLogger,
    default_histogram_layers,
)
from ftcore.keras.compile_guard import CompileGuard, compile_model
from ftcore.keras.feature_cache import extract_features, fit_features
from ftcore.keras.multi_worker import allow_multi_worker, is_multi_worker
from ftcore.keras.options import Checkpointing, FitOptions, Logging, from_keywords
from ftcore.keras.prefix_cache import PrefixPlan, plan_prefix
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
    fit: FitOptions | None = None,
    *,
    checkpointing: Checkpointing | None = None,
    logging: Logging | None = None,
    strategy: tf.distribute.Strategy | None = None,
    **keywords,
) -> FineTuneResult:
    """Train ``model`` (in place) through ``stages``; see the module docstring for an example.

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
    fit, checkpointing, logging = from_keywords(fit, checkpointing, logging, keywords)
    default_loss = _check_data(model, x, y, "training")
    if fit.validation_data is not None:
        _check_data(model, *fit.validation_data, "validation")
    fit = replace(fit, loss=fit.loss or default_loss)
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        work = model
        if strategy is not None and not _in_scope(model, strategy):
            work = keras.models.clone_model(model)
            work.set_weights(model.get_weights())
            set_trainable_flags(work, trainable_flags(model))
        result = _Loop(work, x, y, fit, checkpointing, logging).run(stages)
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
    x: np.ndarray
    validation_data: tuple | None
    cached: bool
    blockers: list[str]


class _Loop:
    """The stages run one after another; one method per step, state shared across stages."""

    def __init__(self, model, x, y, fit: FitOptions, ck: Checkpointing | None, log: Logging):
        self.model, self.x, self.y, self.fit, self.ck, self.log = model, x, y, fit, ck, log
        self.best: dict = {}  # the best monitored value so far, shared by the checkpoints
        self.step, self.writers = [0], {}  # TensorBoard: epochs so far, one writer per dir
        self.layers = log.histogram_layers or default_histogram_layers(model)
        self.monitor = "val_loss" if fit.validation_data is not None else "loss"
        self.start_stage, self.start_epoch, self.latest = 0, 0, None

    def run(self, stages: Sequence[Stage]) -> FineTuneResult:
        if self.ck is not None and self.ck.resume:
            self._resume()
        result = FineTuneResult(self.model)
        for i, stage in enumerate(stages):
            done = i < self.start_stage or (
                i == self.start_stage and self.start_epoch >= stage.epochs
            )
            if done:
                stage.apply(self.model)
                result.stages.append(StageResult(stage.name, {}, False, [], [], skipped=True))
            else:
                result.stages.append(self._stage(i, stage))
        return result

    def _resume(self) -> None:
        self.latest = read_latest(self.ck.dir)
        if self.latest is not None:
            restore_weights(self.model, self.latest)
            progress = self.latest.progress
            self.start_stage, self.start_epoch = progress.stage, progress.epoch
            if progress.best is not None:
                self.best["value"] = progress.best

    def _stage(self, i: int, stage: Stage) -> StageResult:
        trained = stage.apply(self.model)
        f = self._prepare(stage)
        initial_epoch = self.start_epoch if i == self.start_stage else 0
        if self.latest is not None and i == self.start_stage and initial_epoch > 0:
            restore_optimizer(self.model, f.model, self.latest)
        history = self._fit(f, stage, initial_epoch, self._callbacks(i, stage))
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
        f = _Fit(model, self.x, o.validation_data, cached, blockers)
        multi_worker = is_multi_worker(tf.distribute.get_strategy())
        if cached:
            base, f.model = plan.split(model)
            if multi_worker:
                allow_multi_worker(base)
            f.x = extract_features(base, self.x, o.batch_size)
            if o.validation_data is not None:
                vx, vy = o.validation_data
                f.validation_data = (extract_features(base, vx, o.batch_size), vy)
            compile_model(f.model, stage.make_optimizer(model), o.loss, o.metrics)
        if multi_worker:
            allow_multi_worker(f.model)
        return f

    def _cache_plan(self) -> PrefixPlan:
        """Where this stage's frozen prefix ends (the head, or the first trained layer if
        earlier) and why its outputs cannot be cached (:mod:`ftcore.keras.prefix_cache`)."""
        vx = self.fit.validation_data
        n = len(self.x) + (len(vx[0]) if vx is not None else 0)
        return plan_prefix(self.model, self.fit.augment, n_examples=n)

    def _callbacks(self, i: int, stage: Stage) -> list:
        cbs: list = [CompileGuard()]
        if self.ck is not None:
            cbs.append(LatestCheckpoint(self.model, self.ck.dir, i, self.best))
            cbs.append(
                BestCheckpoint(self.model, self.ck.dir / "best.keras", self.monitor, self.best)
            )
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
        if f.cached and not tf.distribute.has_strategy():
            return fit_features(
                f.model,
                f.x,
                self.y,
                epochs=stage.epochs,
                batch_size=o.batch_size,
                initial_epoch=initial_epoch,
                shuffle=o.shuffle,
                validation_data=f.validation_data,
                callbacks=cbs,
            )
        plain = o.augment is None
        return f.model.fit(
            f.x if plain else _augmented(f.x, self.y, o.augment, o.batch_size, o.shuffle),
            self.y if plain else None,
            batch_size=o.batch_size if plain else None,
            epochs=stage.epochs,
            initial_epoch=initial_epoch,
            validation_data=f.validation_data,
            shuffle=o.shuffle and plain,  # the augmented dataset is shuffled
            callbacks=cbs,
            verbose=self.log.verbose,
        ).history


def _augmented(x, y, augment, batch_size, shuffle) -> tf.data.Dataset:
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(len(x), reshuffle_each_iteration=True)
    return ds.batch(batch_size).map(lambda a, b: (augment(a), b))
