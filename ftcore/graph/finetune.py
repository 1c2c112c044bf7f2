"""Fine-tune a pretrained TF1 graph: cut at a target tensor, train a new head, unfreeze more later.

:class:`GraphFineTuner` owns the graph and session and the only initialization path:
the base variables the target depends on (:func:`~ftcore.graph.var_selection.ancestor_variables`)
are restored from the checkpoint, every other variable is initialized, and each later
:meth:`~GraphFineTuner.unfreeze` initializes only the optimizer slots it creates. There is
no global initializer to run in the wrong order, and each :meth:`~GraphFineTuner.fit`
checks first that the restored weights outside the trained scopes still equal the
checkpoint (catching a stray ``global_variables_initializer()`` run on the session).

    >>> import tempfile
    >>> from ftcore_fixtures.build import ensure_built
    >>> from ftcore_fixtures.digits import target_task
    >>> task = target_task(size=32, per_class=10)
    >>> data = (task.x_train, task.y_train)
    >>> target = "MobilenetV2/expanded_conv_14/output"
    >>> with GraphFineTuner.from_meta(ensure_built().slim_ckpt_dir, target, num_classes=5) as ft:
    ...     losses = ft.fit(data, steps=3)  # the head only
    ...     _ = ft.unfreeze("MobilenetV2/expanded_conv_14", learning_rate=1e-4)
    ...     losses += ft.fit(data, steps=2)  # the head and the last block
    ...     prefix = ft.save(tempfile.mkdtemp())
    >>> len(losses), Path(prefix).name
    (5, 'model.ckpt-5')
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from ftcore.atomic import atomic_files
from ftcore.errors import MismatchError, unknown_name
from ftcore.graph.checkpoint_files import link_previous, resolve_checkpoint, write_state
from ftcore.graph.names import op_name, resolve_tensor, variables_by_name
from ftcore.graph.restore import find_meta, load_meta_graph, read_variable
from ftcore.graph.restore_plan import (
    RestorePlan,
    plan_restore,
    restore_and_initialize,
    verify_restored,
)
from ftcore.graph.var_selection import (
    VARIABLE_OPS,
    ancestor_variables,
    filter_by_scopes,
    in_scope,
    model_variables,
    parse_scopes,
)

v1 = tf.compat.v1

HEAD_SCOPE = "finetune_layers"
Head = Callable[[tf.Tensor, int], tf.Tensor]


def linear_head(features: tf.Tensor, num_classes: int) -> tf.Tensor:
    """Global average pooling (for 4-D features) and a dense layer: the default new head.

    Called inside the head scope; creates ``weights`` and ``biases`` there.
    """
    if features.shape.rank == 4:
        features = tf.reduce_mean(features, [1, 2], name="global_pool")
    w = v1.get_variable(
        "weights",
        [int(features.shape[-1]), num_classes],
        initializer=v1.glorot_uniform_initializer(),
    )
    b = v1.get_variable("biases", [num_classes], initializer=v1.zeros_initializer())
    return tf.nn.bias_add(tf.matmul(features, w), b)


def attach_graph_head(
    target: tf.Tensor, head: Head = linear_head, *, num_classes: int, scope: str = HEAD_SCOPE
) -> tf.Tensor:
    """Build ``head(target, num_classes)`` under ``scope``; return logits named ``<scope>/logits``.

    The graph twin of :func:`ftcore.keras.head.attach_head` (same argument order).

    Use the same call to rebuild a fine-tuned model in code (restore method 2), after
    ``mobilenet_v2_base(x, 0.35, final_endpoint="expanded_conv_14/output")``.
    """
    with v1.variable_scope(scope):
        return tf.identity(head(target, num_classes), name="logits")


@dataclass(frozen=True)
class GraphStage:
    """A group of scopes trained together at one learning rate (the graph twin of
    :class:`ftcore.keras.stages.Stage`): the head first, then each :meth:`GraphFineTuner.unfreeze`."""

    scopes: tuple[str, ...]
    learning_rate: float
    variables: tuple[str, ...]


@dataclass(frozen=True)
class Training:
    """The first stage of a :class:`GraphFineTuner`: ``trainable_scopes`` (default: the head
    scope) trained at ``learning_rate`` with ``optimizer(learning_rate)``; ``seed`` is the
    graph's random seed (the head's initial weights)."""

    learning_rate: float = 1e-2
    optimizer: Callable[[float], v1.train.Optimizer] = v1.train.AdamOptimizer
    trainable_scopes: Iterable[str] | str | None = None
    seed: int = 0


@dataclass(frozen=True)
class Restoring:
    """How the base is restored: with ``strict=True`` every variable the target depends on
    must be in the checkpoint with its shape and dtype; ``assignment_map`` renames
    (checkpoint scope -> graph scope)."""

    assignment_map: Mapping[str, str] | None = None
    strict: bool = True


def _options(
    training: Training | None, restoring: Restoring | None, keywords: dict
) -> tuple[Training, Restoring]:
    """``training`` and ``restoring`` with their fields given as keywords folded in."""
    groups = {"training": (training, Training), "restoring": (restoring, Restoring)}
    fields = {f: g for g, (_, cls) in groups.items() for f in cls.__dataclass_fields__}
    changes: dict[str, dict] = {"training": {}, "restoring": {}}
    for name, value in keywords.items():
        if name not in fields:
            raise unknown_name("GraphFineTuner keyword", name, [*fields, *groups])
        if groups[fields[name]][0] is not None:
            raise TypeError(f"GraphFineTuner got both {fields[name]}= and {name}=; pass one")
        changes[fields[name]][name] = value
    return (
        training or Training(**changes["training"]),
        restoring or Restoring(**changes["restoring"]),
    )


def _batches(data, batch_size: int, seed: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    if isinstance(data, tf.data.Dataset):
        yield from data.as_numpy_iterator()
        return
    x, y = data
    if len(x) != len(y):
        raise MismatchError(f"x has {len(x)} examples but y has {len(y)}")
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(len(x))
        for i in range(0, len(x), batch_size):
            idx = order[i : i + batch_size]
            yield x[idx], y[idx]


class GraphFineTuner:
    """A graph cut at ``target`` with a new head; see the module docstring.

    Build with :meth:`from_meta` (restore method 1) or :meth:`from_builder` (method 2).
    Attributes: ``graph``, ``session``, ``inputs`` / ``labels`` placeholders, ``logits``,
    ``loss``, ``var_list`` (the restored base variables), ``plan``, ``stages``.
    """

    def __init__(
        self,
        graph: tf.Graph,
        checkpoint: str | os.PathLike | None,
        target: str,
        num_classes: int,
        *,
        input_name: str = "input",
        head: Head = linear_head,
        head_scope: str = HEAD_SCOPE,
        training: Training | None = None,
        restoring: Restoring | None = None,
        watch: int = 3,
        **keywords,
    ) -> None:
        """Cut ``graph`` (already holding the base) at ``target``; restore from ``checkpoint``.

        ``checkpoint=None`` trains from scratch (every variable initialized). The new head is
        ``head(target, num_classes)`` under ``head_scope``; ``training`` says what the first
        stage trains and how (:class:`Training`), ``restoring`` how the base is restored
        (:class:`Restoring`); their fields also work as keywords (``learning_rate=``,
        ``seed=``, ``strict=``...). ``watch`` frozen base weights get TensorBoard histograms.
        """
        training, restoring = _options(training, restoring, keywords)
        self.graph, self.head_scope, self._optimizer = graph, head_scope, training.optimizer
        self.num_classes = num_classes
        self.stages: list[GraphStage] = []
        with graph.as_default():
            v1.set_random_seed(training.seed)
            self._build(input_name, target, head, watch)
            self.session = v1.Session(graph=graph)
            self._train_op = None
            try:
                self.plan = self._restore(checkpoint, restoring.assignment_map, restoring.strict)
                self._add_stage(training.trainable_scopes or (head_scope,), training.learning_rate)
            except BaseException:
                self.session.close()
                raise

    def _build(self, input_name: str, target: str, head: Head, watch: int) -> None:
        """The cut, the new head, the loss, the step counter and the summaries (in the graph)."""
        graph, scope = self.graph, self.head_scope
        self.inputs = resolve_tensor(graph, input_name)
        self.target = resolve_tensor(graph, target)
        if any(in_scope(op.name, scope) for op in graph.get_operations()):
            raise MismatchError(f"the graph already has a scope {scope!r}; pick another")
        self.var_list = ancestor_variables(graph, self.target)
        self.logits = attach_graph_head(
            self.target, head, num_classes=self.num_classes, scope=scope
        )
        with tf.name_scope("finetune_train"):
            self.labels = v1.placeholder(tf.int64, [None], name="labels")
            self.loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(
                    labels=self.labels, logits=self.logits
                ),
                name="loss",
            )
        self.global_step = v1.train.get_or_create_global_step()
        self._increment = self.global_step.assign_add(1)
        self._summaries = self._build_summaries(watch)

    # -- construction --------------------------------------------------------------------
    @classmethod
    def from_meta(
        cls,
        checkpoint: str | os.PathLike,
        target: str,
        num_classes: int,
        meta: str | os.PathLike | None = None,
        trust: bool = False,
        **kwargs,
    ) -> GraphFineTuner:
        """Method 1: import the checkpoint's ``.meta`` (or ``meta``), cut at ``target``, restore.

        The meta graph is safety-checked like :func:`~ftcore.graph.restore.load_meta_graph`
        (``trust=True`` skips that); ``kwargs`` go to the constructor (``head``,
        ``head_scope``, ``training``, ``restoring`` or their fields: ``learning_rate``...).
        """
        prefix = resolve_checkpoint(checkpoint)
        graph = load_meta_graph(meta or find_meta(prefix), trust=trust)
        return cls(graph, prefix, target, num_classes, **kwargs)

    @classmethod
    def from_builder(
        cls,
        build: Callable[[], object],
        checkpoint: str | os.PathLike | None,
        target: str,
        num_classes: int,
        **kwargs,
    ) -> GraphFineTuner:
        """Method 2: run ``build()`` in a new graph, cut at ``target``, restore (``None``: from scratch).

        >>> from ftcore.graph.nets.slim_mobilenet_v2 import mobilenet_v2
        >>> def build():
        ...     x = tf.compat.v1.placeholder(tf.float32, [None, 32, 32, 3], name="input")
        ...     mobilenet_v2(x, num_classes=5, depth_multiplier=0.35)
        >>> with GraphFineTuner.from_builder(build, None, "MobilenetV2/expanded_conv_14/output", 5) as ft:
        ...     print(ft.logits.name, ft.plan)
        finetune_layers/logits:0 None
        """
        graph = tf.Graph()
        with graph.as_default():
            build()
        return cls(graph, checkpoint, target, num_classes, **kwargs)

    def _restore(self, checkpoint, assignment_map, strict: bool) -> RestorePlan | None:
        """Restore every non-head model variable the checkpoint has; require the var_list."""
        if checkpoint is None:
            self.session.run(v1.global_variables_initializer())
            return None
        base = [v for v in model_variables(self.graph) if not in_scope(v.name, self.head_scope)]
        plan = plan_restore(base, checkpoint, assignment_map)
        required = {op_name(v.name) for v in self.var_list}
        bad = [n for n in plan.graph_only if n in required]
        bad += [str(m) for m in plan.mismatched if m.graph_name in required]
        if strict and bad:
            raise MismatchError(
                f"the checkpoint cannot restore {len(bad)} variables the target "
                f"{self.target.name} needs (e.g. {bad[:3]}):\n{plan.report()}"
            )
        return restore_and_initialize(self.session, plan, strict=False)

    def _build_summaries(self, watch: int) -> tf.Tensor:
        with tf.name_scope("summaries"):
            items = [v1.summary.scalar("loss", self.loss)]
            base = [v for v in self.var_list if v.trainable]
            picks = sorted({round(i * (len(base) - 1) / max(watch - 1, 1)) for i in range(watch)})
            head = [v for v in v1.trainable_variables() if in_scope(v.name, self.head_scope)]
            for v in [base[i] for i in picks if base] + head:
                items.append(v1.summary.histogram(op_name(v.name), v))
            return v1.summary.merge(items)

    # -- stages --------------------------------------------------------------------------
    def _add_stage(self, scopes, learning_rate: float) -> GraphStage:
        trainable = self.graph.get_collection(v1.GraphKeys.TRAINABLE_VARIABLES)
        variables = filter_by_scopes(trainable, include=scopes)
        taken = {n for st in self.stages for n in st.variables}
        names = tuple(op_name(v.name) for v in variables)
        overlap = sorted(taken.intersection(names))
        if overlap:
            raise MismatchError(f"variables already trained by an earlier stage: {overlap[:5]}")
        before = set(variables_by_name(self.graph))
        with self.graph.as_default(), tf.name_scope(f"finetune_train/stage_{len(self.stages)}"):
            handles = {v.op for v in variables} | {
                v.op
                for v in self.graph.get_collection(v1.GraphKeys.GLOBAL_VARIABLES)
                if any(in_scope(v.name, s) for s in parse_scopes(scopes))
            }
            updates = [
                op
                for op in self.graph.get_collection(v1.GraphKeys.UPDATE_OPS)
                if getattr(op, "op", op).inputs[0].op in handles
                and getattr(op, "op", op).inputs[0].op.type in VARIABLE_OPS
            ]
            with tf.control_dependencies(updates):
                step = self._optimizer(learning_rate).minimize(self.loss, var_list=variables)
            self._train_op = step if self._train_op is None else tf.group(self._train_op, step)
        created = [v for n, v in variables_by_name(self.graph).items() if n not in before]
        if created:  # the new optimizer's slots: initialize only them
            with self.graph.as_default():
                self.session.run(v1.variables_initializer(created))
        stage = GraphStage(tuple(parse_scopes(scopes)), learning_rate, names)
        self.stages.append(stage)
        return stage

    def unfreeze(self, scopes: Iterable[str] | str, learning_rate: float) -> GraphStage:
        """Also train the trainable variables under ``scopes`` (e.g. the last base blocks) at
        ``learning_rate``, typically lower than the head's. Already trained values are kept.
        """
        return self._add_stage(scopes, learning_rate)

    @property
    def trained_variables(self) -> list[str]:
        """Names of the variables some stage trains."""
        return [n for st in self.stages for n in st.variables]

    # -- training ------------------------------------------------------------------------
    def fit(
        self,
        data,
        steps: int,
        batch_size: int = 32,
        logdir: str | os.PathLike | None = None,
        seed: int = 0,
    ) -> list[float]:
        """Run up to ``steps`` training steps; return the loss of each.

        ``data`` is ``(x, y)`` arrays (shuffled mini-batches, reshuffled each epoch) or a
        ``tf.data.Dataset`` of ``(x, y)`` batches (stops early when it ends). With ``logdir``,
        TensorBoard events get the scalar ``loss`` and histograms of a few frozen base weights
        and the new head's weights every step.
        """
        if self.plan is not None:  # catches a global initializer run after the restore
            scopes = [s for st in self.stages for s in st.scopes]
            verify_restored(self.session, self.plan, lambda n: any(in_scope(n, s) for s in scopes))
        with self.graph.as_default():
            writer = v1.summary.FileWriter(str(logdir), self.graph) if logdir else None
        losses = []
        try:
            for x, y in itertools.islice(_batches(data, batch_size, seed), steps):
                self._check_labels(y)
                fetches = [self.loss, self._train_op, self._increment]
                if writer:
                    fetches.append(self._summaries)
                out = self.session.run(fetches, {self.inputs: x, self.labels: y})
                losses.append(float(out[0]))
                if writer:
                    writer.add_summary(out[3], int(out[2]))
        finally:
            if writer:
                writer.close()
        return losses

    def _check_labels(self, y) -> None:
        y = np.asarray(y)
        bad = y[(y < 0) | (y >= self.num_classes)] if np.issubdtype(y.dtype, np.integer) else y
        if y.ndim != 1 or bad.size:
            raise MismatchError(
                f"labels must be a 1-D array of integers in [0, {self.num_classes}) "
                f"(num_classes={self.num_classes}); got dtype {y.dtype}, shape {y.shape}"
                + (f", values {sorted(set(bad.tolist()))[:5]}" if bad.size else "")
            )

    def predict(self, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Logits for ``x``, in batches."""
        parts = [
            self.session.run(self.logits, {self.inputs: x[i : i + batch_size]})
            for i in range(0, len(x), batch_size)
        ]
        return np.concatenate(parts)

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> float:
        """Accuracy of ``argmax(logits)`` against ``y``."""
        return float(np.mean(self.predict(x).argmax(-1) == np.asarray(y)))

    def value(self, name: str) -> np.ndarray:
        """The current value of variable ``name``."""
        return read_variable(self.session, name)

    # -- saving --------------------------------------------------------------------------
    def save(self, directory: str | os.PathLike, name: str = "model.ckpt") -> str:
        """Save all variables and the meta graph as ``directory/name-<step>``; return the prefix.

        Files are written to a temporary folder and moved in (index last), then the
        ``checkpoint`` state file names the new prefix, so a crash never leaves the state
        file naming a half-written checkpoint. Saving a step that is already there keeps the
        old files readable as ``<prefix>.previous`` (hard links, named by the state file)
        until the new ones are complete; meanwhile ``<prefix>`` itself has no index, so
        reading it directly fails instead of mixing old and new files. The result restores through
        :func:`~ftcore.graph.restore.restore_meta_graph` and, after rebuilding with
        :func:`attach_graph_head`, :func:`~ftcore.graph.restore.restore_built_graph`.
        """
        directory = Path(directory)
        step = int(self.session.run(self.global_step))
        with self.graph.as_default():
            saver = v1.train.Saver(max_to_keep=None, save_relative_paths=True)
        with atomic_files(directory, last=lambda p: p.suffix == ".index") as tmp:
            with self.graph.as_default():
                saved = saver.save(
                    self.session, str(tmp / name), global_step=step, latest_filename="tmp_state"
                )
            stem = Path(saved).name
            (tmp / "tmp_state").unlink(missing_ok=True)  # Saver's own state file: ours follows
            backup = link_previous(directory, stem)
            if backup:  # the state names the backup; the prefix has no index until the new one
                write_state(directory, backup)
                (directory / f"{stem}.index").unlink(missing_ok=True)
        write_state(directory, stem)
        for f in directory.glob(f"{backup}.*") if backup else ():
            f.unlink()
        return str(directory / stem)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> GraphFineTuner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
