"""Two-stage fine-tuning of a Keras 3 model whose head layers are named ``head_*``.

Keras 3 silently ignores ``trainable`` changes made after ``compile()``. ftcore's rule:
**every stage sets its flags and then recompiles** (a fresh optimizer per stage), and
:func:`check_compiled` / :class:`CompileGuard` **raise** :class:`StaleCompileError` when a
model's trainable variables differ from those it was compiled with (ftcore never recompiles
behind the user's back outside a stage). Frozen layers run in inference mode, so a frozen
BatchNormalization uses and keeps its moving statistics.

Stage 1 trains the head (SGD, lr 0.01); when nothing before the head trains or behaves
differently in training, the base runs once and the head trains on cached features
(:mod:`ftcore.feature_cache`). Stage 2 unfreezes from a layer at a lower rate (1e-4),
optionally with discriminative learning rates and ``train_bn``.

    >>> import keras, numpy as np
    >>> from ftcore.keras_head import attach_head
    >>> base = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="c")])
    >>> model = attach_head(base, "gap", num_classes=2)
    >>> x, y = np.zeros((4, 8, 8, 3), "float32"), np.array([0, 1, 0, 1])
    >>> result = fine_tune(model, x, y, [head_stage(epochs=1), unfreeze_stage("c", epochs=1)])
    >>> [(s.name, s.cached) for s in result.stages]
    [('head', True), ('unfreeze', False)]
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

from ftcore.atomic import atomic_path, write_bytes, write_text
from ftcore.errors import FtcoreError, MismatchError
from ftcore.feature_cache import cache_blockers, extract_features, fit_features, split_at_head
from ftcore.keras_freeze import (
    FreezeReport,
    Selector,
    freeze_report,
    leaves,
    select,
    set_trainable_flags,
    trainable_flags,
)
from ftcore.keras_head import is_head


class StaleCompileError(MismatchError):
    """A model's trainable variables differ from those it was compiled with."""


class EmptyDataError(FtcoreError, ValueError):
    """A training or validation set with no examples."""


# ---------------------------------------------------------------- compile guard


def compile_model(model: keras.Model, optimizer, loss="sparse_categorical_crossentropy",
                  metrics: Sequence = ("accuracy",)) -> None:  # fmt: skip
    """``model.compile`` that records which variables are trainable, for :func:`check_compiled`.

    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> compile_model(m, "sgd", "mse", ()); check_compiled(m)
    """
    model.compile(optimizer=optimizer, loss=loss, metrics=list(metrics))
    model._ftcore_compiled_vars = _trainable_ids(model)


def _trainable_ids(model: keras.Model) -> dict[int, str]:
    return {id(v): v.path for v in model.trainable_variables}


def check_compiled(model: keras.Model) -> None:
    """Raise :class:`StaleCompileError` if ``model``'s trainable flags changed since compile.

    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, name="d")])
    >>> compile_model(m, "sgd", "mse", ()); m.layers[0].trainable = False
    >>> check_compiled(m)
    Traceback (most recent call last):
    ftcore.keras_finetune.StaleCompileError: model '...' was compiled with other trainable flags ...
    """
    recorded = getattr(model, "_ftcore_compiled_vars", None)
    if recorded is None:
        raise StaleCompileError(
            f"model {model.name!r} was not compiled with ftcore.keras_finetune.compile_model, "
            "so its compiled trainable set is unknown; compile it with compile_model"
        )
    now = _trainable_ids(model)
    frozen = sorted(p for i, p in recorded.items() if i not in now)
    thawed = sorted(p for i, p in now.items() if i not in recorded)
    if frozen or thawed:
        parts = [f"frozen since: {', '.join(frozen[:5])}" if frozen else "",
                 f"unfrozen since: {', '.join(thawed[:5])}" if thawed else ""]  # fmt: skip
        raise StaleCompileError(
            f"model {model.name!r} was compiled with other trainable flags "
            f"({'; '.join(p for p in parts if p)}); Keras 3 would ignore the change. "
            "Recompile (compile_model) after changing trainable flags"
        )


class CompileGuard(keras.callbacks.Callback):
    """Callback that calls :func:`check_compiled` when ``fit`` starts.

    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> compile_model(m, "sgd", "mse", ())
    >>> _ = m.fit(np.zeros((2, 2)), np.zeros((2, 1)), callbacks=[CompileGuard()], verbose=0)
    """

    def on_train_begin(self, logs=None):
        check_compiled(self.model)


# ---------------------------------------------------------------- discriminative LRs


class _LayerwiseLR:
    """Mixin: per-variable learning-rate multipliers (keyed by variable path)."""

    def __init__(self, *args, lr_multipliers: dict[str, float] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lr_multipliers = dict(lr_multipliers or {})

    def build(self, variables):
        self._ftcore_mults = [float(self.lr_multipliers.get(v.path, 1.0)) for v in variables]
        super().build(variables)

    def update_step(self, gradient, variable, learning_rate):
        mult = self._ftcore_mults[self._get_variable_index(variable)]
        if mult != 1.0:
            learning_rate = keras.ops.cast(learning_rate, variable.dtype) * mult
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "lr_multipliers": self.lr_multipliers}


@keras.saving.register_keras_serializable(package="ftcore")
class LayerwiseSGD(_LayerwiseLR, keras.optimizers.SGD):
    """SGD with per-variable learning-rate multipliers ``lr_multipliers={path: factor}``."""


@keras.saving.register_keras_serializable(package="ftcore")
class LayerwiseAdam(_LayerwiseLR, keras.optimizers.Adam):
    """Adam with per-variable learning-rate multipliers ``lr_multipliers={path: factor}``."""


def discriminative_multipliers(model: keras.Model, lowest: float) -> dict[str, float]:
    """Geometric LR multipliers: the earliest trainable base layer gets ``lowest``, rising
    towards 1 at the head (head layers get 1), keyed by variable path.

    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, name="a"),
    ...                       keras.layers.Dense(2, name="b"), keras.layers.Dense(1, name="head_o")])
    >>> sorted(set(discriminative_multipliers(m, 0.01).values()))
    [0.01, 0.1]
    """
    flags = trainable_flags(model)
    base = [layer for path, layer in leaves(model)
            if flags[path] and layer.trainable_weights and not _in_head(model, path)]  # fmt: skip
    n = len(base)
    mults = {}
    for i, layer in enumerate(base):
        for v in layer.trainable_weights:
            mults[v.path] = float(lowest ** ((n - i) / n))
    return mults


def _in_head(model: keras.Model, path: str) -> bool:
    return is_head(model.get_layer(path.split("/", 1)[0]))


# ---------------------------------------------------------------- stages


@dataclass(frozen=True)
class Stage:
    """One training stage: which layers train, for how long, with which optimizer.

    ``train`` is a selector (:mod:`ftcore.keras_freeze`) of the layers that train, everything
    else is frozen; ``unfreeze_from`` instead trains every layer from that index / name on.
    ``optimizer``: ``"sgd"``, ``"momentum"`` (SGD, momentum 0.9) or ``"adam"``.
    ``discriminative``: lowest LR multiplier for the earliest trainable base layer (geometric
    up to 1 at the head) or ``{variable path: multiplier}``.

    ``train_bn``: ``None`` (default) keeps BatchNormalization layers frozen in an
    ``unfreeze_from`` stage (the Keras guide's advice: a trainable BN normalises with the small
    fine-tuning batches and overwrites its moving statistics) and follows ``train`` otherwise
    (``train="all"`` trains them, as from-scratch training should); ``True`` makes every BN
    layer trainable (affine parameters train, batch statistics, moving statistics update), as
    fastai's ``train_bn``; ``False`` freezes every BN layer.
    """

    name: str
    train: Selector | None = "head"
    unfreeze_from: int | str | None = None
    epochs: int = 1
    optimizer: str = "sgd"
    learning_rate: float = 0.01
    discriminative: float | dict[str, float] | None = None
    train_bn: bool | None = None

    def apply(self, model: keras.Model) -> list[str]:
        """Set ``model``'s trainable flags for this stage; return the trainable leaf paths."""
        order = [p for p, _ in leaves(model)]
        if self.unfreeze_from is not None:
            first = select(model, self.unfreeze_from if isinstance(self.unfreeze_from, str)
                           else slice(self.unfreeze_from, None))  # fmt: skip
            k = order.index(first[0]) if first else len(order)
            on = set(order[k:])
        else:
            on = set(select(model, self.train)) if self.train is not None else set()
        bn = {p for p, layer in leaves(model) if isinstance(layer, keras.layers.BatchNormalization)}
        if self.train_bn:
            on |= bn
        elif self.train_bn is False or self.unfreeze_from is not None:
            on -= bn
        set_trainable_flags(model, {p: p in on for p in order})
        return [p for p in order if p in on]

    def report(self, model: keras.Model) -> FreezeReport:
        """The freeze table with the "next stage" column for this stage (flags unchanged)."""
        before = trainable_flags(model)
        paths = self.apply(model)
        set_trainable_flags(model, before)
        return freeze_report(model, next_trainable=paths)

    def make_optimizer(self, model: keras.Model) -> keras.optimizers.Optimizer:
        """A fresh optimizer for this stage (after :meth:`apply`)."""
        mults = self.discriminative
        if isinstance(mults, (int, float)):
            mults = discriminative_multipliers(model, float(mults))
        sgd, adam = (keras.optimizers.SGD, LayerwiseSGD), (keras.optimizers.Adam, LayerwiseAdam)
        kinds = {"sgd": (sgd, {}), "momentum": (sgd, {"momentum": 0.9}), "adam": (adam, {})}
        if self.optimizer not in kinds:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; expected one of {list(kinds)}")
        (plain, layerwise), extra = kinds[self.optimizer]
        if not mults:  # a plain Keras optimizer: the saved .keras then loads without ftcore
            return plain(learning_rate=self.learning_rate, **extra)
        return layerwise(learning_rate=self.learning_rate, lr_multipliers=mults, **extra)


def head_stage(epochs: int = 5, learning_rate: float = 0.01, optimizer: str = "sgd",
               **kwargs) -> Stage:  # fmt: skip
    """Stage 1: train only the head (the seed: SGD, lr 0.01).

    >>> head_stage(3).train
    'head'
    """
    return Stage("head", train="head", epochs=epochs, learning_rate=learning_rate,
                 optimizer=optimizer, **kwargs)  # fmt: skip


def unfreeze_stage(start: int | str, epochs: int = 5, learning_rate: float = 1e-4,
                   optimizer: str = "sgd", **kwargs) -> Stage:  # fmt: skip
    """Stage 2: train every layer from ``start`` on (the seed: ``model.layers[80:]``, lr 1e-4).

    >>> unfreeze_stage(80).unfreeze_from
    80
    """
    return Stage("unfreeze", train=None, unfreeze_from=start, epochs=epochs,
                 learning_rate=learning_rate, optimizer=optimizer, **kwargs)  # fmt: skip


# ---------------------------------------------------------------- callbacks


def save_model_atomic(model: keras.Model, path: str | os.PathLike) -> Path:
    """``model.save(path)`` (``.keras``) such that ``path`` is complete or untouched."""
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
    return Path(path)


class _BestCheckpoint(keras.callbacks.Callback):
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


class _LatestCheckpoint(keras.callbacks.Callback):
    """After each epoch, write the full model's weights, the optimizer state and
    ``{"stage": i, "epoch": completed epochs}`` to ``directory`` (atomically)."""

    def __init__(self, target: keras.Model, directory: Path, stage: int, best: dict):
        super().__init__()
        self.target, self.dir, self.stage, self.best = target, Path(directory), stage, best

    def on_epoch_end(self, epoch, logs=None):
        _write_checkpoint(self.dir, self.target, self.model.optimizer, self.stage, epoch + 1,
                         self.best)  # fmt: skip


def _write_checkpoint(directory: Path, model: keras.Model, optimizer, stage: int, epoch: int,
                     best: dict) -> None:  # fmt: skip
    """Write ``latest.npz`` (model weights + optimizer variables) then ``latest.json``."""
    buf = io.BytesIO()
    arrays = {f"w{i}": w for i, w in enumerate(model.get_weights())}
    opt_vars = optimizer.variables if optimizer is not None and optimizer.built else []
    arrays.update({f"o{i}": np.asarray(v.numpy()) for i, v in enumerate(opt_vars)})
    np.savez(buf, **arrays)
    write_bytes(directory / "latest.npz", buf.getvalue())
    state = {"stage": stage, "epoch": epoch, "best": best.get("value")}
    write_text(directory / "latest.json", json.dumps(state))


def _read_checkpoint(directory: Path) -> tuple[dict, dict[str, np.ndarray]] | None:
    """``(state, arrays)`` of the latest checkpoint in ``directory``, or None."""
    state_path = Path(directory) / "latest.json"
    if not state_path.is_file():
        return None
    with np.load(Path(directory) / "latest.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return json.loads(state_path.read_text()), arrays


def _metadata(plugin: str) -> summary_pb2.SummaryMetadata:
    return summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin)
    )


def histogram_buckets(values: np.ndarray, bins: int = 30) -> np.ndarray:
    """TensorBoard's histogram tensor: ``[bins, 3]`` rows of (left edge, right edge, count).

    >>> histogram_buckets(np.array([0.0, 1.0, 1.0]), bins=2).tolist()
    [[0.0, 0.5, 1.0], [0.5, 1.0, 2.0]]
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi))
    return np.stack([edges[:-1], edges[1:], counts.astype(np.float64)], axis=1)


class TensorBoardLogger(keras.callbacks.Callback):
    """Write TensorBoard event files with core TF ops (TF 2.21 ships without the
    ``tensorboard`` package that ``keras.callbacks.TensorBoard`` needs).

    Per epoch: scalars ``epoch_<metric>`` under ``<log_dir>/<run>/train`` and
    ``.../validation``; histograms of ``layers``' weights at the start and after every epoch
    under ``<log_dir>/weights``, tagged ``frozen/<layer>/<var>`` or ``trainable/<layer>/<var>``,
    so frozen layers can be seen not to move. ``step`` (a one-item list) counts epochs
    across stages.
    """

    def __init__(self, log_dir: Path, run: str, layers: dict[str, keras.layers.Layer],
                 step: list[int], writers: dict) -> None:  # fmt: skip
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
                    tf.summary.write(f"{state}/{path}/{v.name}", histogram_buckets(v.numpy()),
                                     step=self.step[0], metadata=_metadata("histograms"))  # fmt: skip
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
                tf.summary.write(f"epoch_{tag}", tf.constant(float(value)), step=epoch,
                                 metadata=_metadata("scalars"))  # fmt: skip
            writer.flush()
        self._histograms()


def _default_histogram_layers(model: keras.Model) -> dict[str, keras.layers.Layer]:
    """The first two and the last weighted base layers plus every weighted head layer."""
    weighted = [(p, layer) for p, layer in leaves(model) if layer.weights]
    base = [(p, lr) for p, lr in weighted if not _in_head(model, p)]
    head = [(p, lr) for p, lr in weighted if _in_head(model, p)]
    return dict(base[:2] + base[-1:] + head)


# ---------------------------------------------------------------- fine_tune


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
      :func:`ftcore.feature_cache.cache_blockers` finds nothing against it (else it trains
      through the base); ``True`` raises instead of falling back; ``False`` never caches.
    - ``augment(batch) -> batch`` is applied to training inputs (and disables caching).
    - ``checkpoint_dir``: ``best.keras`` (best ``val_loss``, else ``loss``) and ``latest.*``
      after every epoch; ``resume=True`` continues from ``latest`` (stage, epoch, optimizer).
    - ``log_dir``: TensorBoard loss/metrics per stage (``<log_dir>/<i>_<stage>``) and weight
      histograms (``<log_dir>/weights``) of ``histogram_layers`` (default: a few base layers
      and the head).
    - ``strategy``: a ``tf.distribute`` strategy; a model built outside its scope is cloned
      into it, trained there, and its weights copied back into ``model``.

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
        result = _run_stages(work, x, y, stages, validation_data, batch_size, loss, metrics,
                             cache_features, augment, checkpoint_dir, resume, log_dir,
                             histogram_layers, callbacks, shuffle, verbose)  # fmt: skip
    if work is not model:
        model.set_weights(work.get_weights())
        set_trainable_flags(model, trainable_flags(work))
        compile_model(model, stages[-1].make_optimizer(model) if stages else "sgd", loss, metrics)
    result.model = model
    return result


def _run_stages(model, x, y, stages, validation_data, batch_size, loss, metrics, cache_features,
                augment, checkpoint_dir, resume, log_dir, histogram_layers, callbacks, shuffle,
                verbose) -> FineTuneResult:  # fmt: skip
    result = FineTuneResult(model)
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if resume and ckpt is None:
        raise TypeError("resume=True needs checkpoint_dir")
    best: dict = {}
    start_stage, start_epoch, saved = 0, 0, None
    if resume and ckpt is not None:
        found = _read_checkpoint(ckpt)
        if found is not None:
            state, saved = found
            start_stage, start_epoch = state["stage"], state["epoch"]
            if state.get("best") is not None:
                best["value"] = state["best"]
            weights = [saved[k] for k in sorted((k for k in saved if k[0] == "w"),
                                                key=lambda k: int(k[1:]))]  # fmt: skip
            try:
                model.set_weights(weights)
            except ValueError as e:
                raise MismatchError(
                    f"checkpoint {ckpt / 'latest.npz'} does not fit model {model.name!r}: {e}"
                ) from e
    step, writers = [0], {}
    layers = histogram_layers or _default_histogram_layers(model)
    monitor = "val_loss" if validation_data is not None else "loss"
    for i, stage in enumerate(stages):
        if i < start_stage or (i == start_stage and start_epoch >= stage.epochs):
            stage.apply(model)
            result.stages.append(StageResult(stage.name, {}, False, [], [], skipped=True))
            continue
        trained = stage.apply(model)
        blockers = cache_blockers(model, augment)
        if cache_features is True and blockers:
            raise FtcoreError(f"stage {stage.name!r}: feature caching is not valid: "
                              + "; ".join(blockers))  # fmt: skip
        cached = cache_features in (True, "auto") and not blockers
        compile_model(model, stage.make_optimizer(model), loss, metrics)
        fit_model, fx, fval = model, x, validation_data
        if cached:
            base, fit_model = split_at_head(model)
            fx = extract_features(base, x, batch_size)
            if validation_data is not None:
                fval = (extract_features(base, validation_data[0], batch_size), validation_data[1])
            compile_model(fit_model, stage.make_optimizer(model), loss, metrics)
        initial_epoch = start_epoch if i == start_stage else 0
        if saved is not None and i == start_stage and initial_epoch > 0:
            _restore_optimizer(fit_model, saved)
        cbs: list = [CompileGuard()]
        if ckpt is not None:
            cbs.append(_LatestCheckpoint(model, ckpt, i, best))
            cbs.append(_BestCheckpoint(model, ckpt / "best.keras", monitor, best))
        if log_dir is not None:
            cbs.append(TensorBoardLogger(Path(log_dir), f"{i}_{stage.name}", layers, step, writers))
        cbs.extend(callbacks)
        if cached and not tf.distribute.has_strategy():
            history = fit_features(fit_model, fx, y, epochs=stage.epochs, batch_size=batch_size,
                                   initial_epoch=initial_epoch, shuffle=shuffle,
                                   validation_data=fval, callbacks=cbs)  # fmt: skip
        else:
            train = fx if augment is None else _augmented(fx, y, augment, batch_size, shuffle)
            history = fit_model.fit(
                train,
                y if augment is None else None,
                batch_size=batch_size if augment is None else None,
                epochs=stage.epochs,
                initial_epoch=initial_epoch,
                validation_data=fval,
                shuffle=shuffle and augment is None,  # the augmented dataset is shuffled
                callbacks=cbs,
                verbose=verbose,
            ).history
        if ckpt is not None:
            _write_checkpoint(ckpt, model, None, i + 1, 0, best)
        result.stages.append(StageResult(stage.name, dict(history), cached, blockers,
                                         trained))  # fmt: skip
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
