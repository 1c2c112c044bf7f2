"""Plan a restore against a checkpoint, then restore and initialize in an order that cannot
clobber restored weights.

:func:`plan_restore` sorts every name into exactly one list: ``to_restore`` (present in both
with equal shape and dtype), ``graph_only`` (the checkpoint lacks it), ``mismatched``
(present in both, shape or dtype differ) and, for checkpoint keys no variable asks for,
``checkpoint_only``. An assignment map renames on the way, as in
``tf.compat.v1.train.init_from_checkpoint``: ``{"checkpoint_scope/": "graph_scope/"}``.

:func:`restore_and_initialize` is the one call that sets up a session: it initializes every
variable *not* restored, then restores the plan. :func:`verify_restored` detects the classic
mistake of running ``global_variables_initializer()`` after a restore.

    >>> from ftcore.graph.nets.slim_mobilenet_v2 import mobilenet_v2
    >>> from ftcore.graph.var_selection import ancestor_variables
    >>> from ftcore_fixtures.build import ensure_built
    >>> g = tf.Graph()
    >>> with g.as_default():
    ...     x = v1.placeholder(tf.float32, [None, 32, 32, 3], name="input")
    ...     _ = mobilenet_v2(x, num_classes=5, depth_multiplier=0.35)
    >>> var_list = ancestor_variables(g, "MobilenetV2/expanded_conv_14/output")
    >>> plan = plan_restore(var_list, ensure_built().slim_ckpt_dir)
    >>> plan.complete, len(plan.to_restore), len(plan.checkpoint_only)
    (True, 225, 38)
    >>> with v1.Session(graph=g) as sess:
    ...     _ = restore_and_initialize(sess, plan)
    ...     verify_restored(sess, plan)  # passes
    ...     sess.run(v1.variables_initializer(var_list))  # the classic mistake
    ...     verify_restored(sess, plan)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ftcore.errors.MismatchError: 225 of 225 restored variables no longer equal checkpoint ...
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from ftcore.errors import InvalidFileError, MismatchError, unknown_name
from ftcore.graph.checkpoint_files import checkpoint_contents, resolve_checkpoint, truncated_error
from ftcore.graph.names import VarInfo, op_name, var_info
from ftcore.graph.var_selection import all_scopes, in_scope

v1 = tf.compat.v1


@dataclass(frozen=True)
class Mismatch:
    """A variable present in graph and checkpoint whose shape or dtype differ."""

    graph_name: str
    checkpoint_name: str
    graph: tuple[tuple[int | None, ...], str]
    checkpoint: tuple[tuple[int | None, ...], str]

    def __str__(self) -> str:
        rename = "" if self.graph_name == self.checkpoint_name else f" (<- {self.checkpoint_name})"
        return (
            f"{self.graph_name}{rename}: graph {list(self.graph[0])} {self.graph[1]}, "
            f"checkpoint {list(self.checkpoint[0])} {self.checkpoint[1]}"
        )


@dataclass(frozen=True)
class RestorePlan:
    """What a restore from ``checkpoint`` will do; see the module docstring for the lists."""

    checkpoint: str
    to_restore: tuple[tuple[str, str], ...]  # (graph name, checkpoint name)
    graph_only: tuple[str, ...]
    checkpoint_only: tuple[str, ...]
    mismatched: tuple[Mismatch, ...]
    variables: Mapping[str, tf.Variable] = field(default_factory=dict, compare=False, repr=False)

    @property
    def complete(self) -> bool:
        """True when every graph variable of the plan will be restored."""
        return not self.graph_only and not self.mismatched

    def report(self, limit: int = 10) -> str:
        """A readable summary listing up to ``limit`` names per list."""

        def block(title: str, items: Iterable) -> str:
            items = [str(i) for i in items]
            if not items:
                return ""
            more = f"\n    ... and {len(items) - limit} more" if len(items) > limit else ""
            return f"\n  {title}:\n    " + "\n    ".join(items[:limit]) + more

        head = (
            f"restore plan for {self.checkpoint}: {len(self.to_restore)} to restore, "
            f"{len(self.graph_only)} graph-only, {len(self.checkpoint_only)} checkpoint-only, "
            f"{len(self.mismatched)} shape/dtype mismatches"
        )
        return (
            head
            + block("in the graph, missing from the checkpoint", self.graph_only)
            + block("shape/dtype mismatches", self.mismatched)
            + block("in the checkpoint, not used by the graph", self.checkpoint_only)
        )


def _norm_map(assignment_map: Mapping[str, str] | None) -> list[tuple[str, str]]:
    return [(c.strip("/"), g.strip("/")) for c, g in (assignment_map or {}).items()]


def checkpoint_name(graph_name: str, assignment_map: Mapping[str, str] | None = None) -> str:
    """The checkpoint key a graph variable reads, after renaming by the longest matching scope.

    >>> checkpoint_name("student/conv/w", {"teacher/": "student/"})
    'teacher/conv/w'
    >>> checkpoint_name("head/w", {"teacher/": "student/"})
    'head/w'
    """
    best: tuple[str, str] | None = None
    for ckpt_scope, graph_scope in _norm_map(assignment_map):
        if (not graph_scope or in_scope(graph_name, graph_scope)) and (
            best is None or len(graph_scope) > len(best[1])
        ):
            best = (ckpt_scope, graph_scope)
    if best is None:
        return graph_name
    rest = graph_name[len(best[1]) :].lstrip("/")
    return "/".join(p for p in (best[0], rest) if p)


def plan_restore(
    variables: Iterable,
    checkpoint: str | os.PathLike,
    assignment_map: Mapping[str, str] | None = None,
) -> RestorePlan:
    """Compare ``variables`` (tf.Variables or :class:`VarInfo`) with a checkpoint's contents.

    ``checkpoint`` is a directory (newest checkpoint), a prefix or a checkpoint file. A scope
    in ``assignment_map`` that matches nothing raises :class:`UnknownNameError`.
    """
    prefix = resolve_checkpoint(checkpoint)
    ckpt = {i.name: i for i in checkpoint_contents(prefix)}
    variables = list(variables)
    infos = [var_info(v) for v in variables]
    for ckpt_scope, graph_scope in _norm_map(assignment_map):
        if ckpt_scope and not any(in_scope(n, ckpt_scope) for n in ckpt):
            raise unknown_name("checkpoint scope", ckpt_scope, all_scopes(ckpt), where=prefix)
        if graph_scope and not any(in_scope(i.name, graph_scope) for i in infos):
            raise unknown_name("graph scope", graph_scope, all_scopes(i.name for i in infos))
    to_restore, graph_only, mismatched, used = [], [], [], set()
    for info in sorted(infos, key=lambda i: i.name):
        key = checkpoint_name(info.name, assignment_map)
        stored = ckpt.get(key)
        if stored is None:
            graph_only.append(info.name)
            continue
        used.add(key)
        if (stored.shape, stored.dtype) != (info.shape, info.dtype):
            mismatched.append(
                Mismatch(info.name, key, (info.shape, info.dtype), (stored.shape, stored.dtype))
            )
        else:
            to_restore.append((info.name, key))
    objects = {op_name(v.name): v for v in variables if not isinstance(v, VarInfo)}
    return RestorePlan(
        prefix,
        tuple(to_restore),
        tuple(graph_only),
        tuple(sorted(set(ckpt) - used)),
        tuple(mismatched),
        objects,
    )


def restore(session: v1.Session, plan: RestorePlan, strict: bool = True) -> RestorePlan:
    """Restore ``plan.to_restore`` into ``session``; in strict mode first require a complete plan.

    Strict mode raises :class:`MismatchError` carrying :meth:`RestorePlan.report` when any
    planned variable is graph-only or mismatched; lenient mode restores the matching part
    and returns the plan so the caller can report the rest. A truncated or corrupt data
    file raises :class:`InvalidFileError`.
    """
    if strict and not plan.complete:
        raise MismatchError("cannot restore strictly:\n" + plan.report())
    resolve_checkpoint(plan.checkpoint)  # still there? (MissingFileError naming what is not)
    missing = [g for g, _ in plan.to_restore if g not in plan.variables]
    if missing:
        raise MismatchError(
            f"plan has no variable objects for {missing[:5]} (planned from VarInfo?)"
        )
    groups: list[dict[str, tf.Variable]] = []  # one Saver per group: a key may feed two variables
    for graph_name, key in plan.to_restore:
        group = next((g for g in groups if key not in g), None)
        if group is None:
            group = {}
            groups.append(group)
        group[key] = plan.variables[graph_name]
    try:
        with session.graph.as_default():
            for group in groups:
                v1.train.Saver(var_list=group, max_to_keep=None).restore(session, plan.checkpoint)
    except (tf.errors.OutOfRangeError, tf.errors.DataLossError) as e:
        raise truncated_error(plan.checkpoint, e) from None
    except tf.errors.OpError as e:
        raise InvalidFileError(
            f"restoring from {plan.checkpoint} failed: {e.message.strip().splitlines()[0]}"
        ) from None
    return plan


def restore_and_initialize(
    session: v1.Session, plan: RestorePlan, strict: bool = True, skip: Iterable[str] = ()
) -> RestorePlan:
    """Initialize every global variable the plan does not restore, then restore the plan.

    The two sets are disjoint, so no order of these steps can clobber a restored weight.
    ``skip`` names variables already holding values (e.g. trained earlier) to leave alone.
    """
    if strict and not plan.complete:
        raise MismatchError("cannot restore strictly:\n" + plan.report())
    keep = {g for g, _ in plan.to_restore} | set(skip)
    others = [
        v
        for v in session.graph.get_collection(v1.GraphKeys.GLOBAL_VARIABLES)
        if op_name(v.name) not in keep
    ]
    if others:
        with session.graph.as_default():
            session.run(v1.variables_initializer(others))
    return restore(session, plan, strict=strict)


def _bitwise_equal(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def verify_restored(
    session: v1.Session, plan: RestorePlan, exclude: Callable[[str], bool] | None = None
) -> None:
    """Raise :class:`MismatchError` if any restored variable no longer equals the checkpoint.

    This is how "restore, then ``global_variables_initializer()``" is caught: the
    initializer overwrote restored weights with fresh random values. ``exclude(name)``
    skips variables that are meant to change (those being trained).
    """
    reader = tf.train.load_checkpoint(resolve_checkpoint(plan.checkpoint))
    pairs = [(g, key) for g, key in plan.to_restore if not (exclude and exclude(g))]
    names = [g for g, _ in pairs]
    values = session.run([plan.variables[g] for g in names])
    try:
        changed = [
            g
            for (g, key), value in zip(pairs, values, strict=True)
            if not _bitwise_equal(value, reader.get_tensor(key))
        ]
    except (tf.errors.OpError, IndexError) as e:
        raise truncated_error(plan.checkpoint, e) from None
    if changed:
        raise MismatchError(
            f"{len(changed)} of {len(names)} restored variables no longer equal checkpoint "
            f"{plan.checkpoint} (e.g. {changed[:3]}): were they re-initialized after the restore, "
            "e.g. by global_variables_initializer()? Use restore_and_initialize()."
        )
