"""Which variables to restore or train: exactly those a target tensor depends on, or by scope.

:func:`ancestor_variables` walks the graph backwards from the target through data
edges (resource variables are reached through ``ReadVariableOp`` -> ``VarHandleOp``),
so branches, residual adds, renamed scopes and any variable creation order are handled;
an op target (a training op) also through the control dependencies it runs.
It includes BN moving statistics: read directly by an eval-mode batch norm, or written
by an ``UPDATE_OPS`` op fed by a training-mode ``FusedBatchNorm`` on the path. Optimizer
slots and the global step are never selected.

:func:`filter_by_scopes` is the slim ``--checkpoint_exclude_scopes`` /
``--trainable_scopes`` selection, with scope boundaries respected (``"a/b"`` matches
``"a/b/w"``, not ``"a/bc/w"``) and unknown scopes reported with close matches.

    >>> import tensorflow as tf
    >>> g = tf.Graph()
    >>> with g.as_default():
    ...     x = tf.ones([1, 2])
    ...     a = tf.compat.v1.get_variable("a/w", [2, 2])
    ...     b = tf.compat.v1.get_variable("b/w", [2, 2])
    ...     ya, yb = tf.identity(x @ a, name="ya"), tf.identity(x @ b, name="yb")
    >>> [v.name for v in ancestor_variables(g, "ya")]
    ['a/w:0']
    >>> [v.name for v in filter_by_scopes(g.get_collection("variables"), exclude="a")]
    ['b/w:0']
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

import tensorflow as tf

from ftcore.errors import MismatchError, unknown_name
from ftcore.graph.names import VARIABLE_OPS, op_name, resolve_tensor, variables_by_name

v1 = tf.compat.v1

T = TypeVar("T")


def _as_tensors_or_ops(graph: tf.Graph, targets) -> list:
    if isinstance(targets, str | tf.Tensor | tf.Operation):
        targets = [targets]
    out = []
    ops = {op.name: op for op in graph.get_operations()}
    for t in targets:
        if isinstance(t, str) and op_name(t) == t and t in ops:
            out.append(ops[t].outputs[0] if ops[t].outputs else ops[t])
        elif isinstance(t, str):
            out.append(resolve_tensor(graph, t))
        else:
            out.append(t)
    return out


def _ancestor_tensors(starts: list) -> set:
    """Tensors the ``starts`` (tensors or ops) depend on, tensors among the starts (and an op
    start's first output) included.

    From a tensor, data edges only. An op target stands for everything running it runs: its
    data and control dependencies, transitively (a ``tf.group`` or training op, and
    ``minimize(..., global_step=step)``'s step increment, whose input waits for the update
    group). The tensors read along the way are returned.
    """
    seen: set = set()
    ops, ran = [s for s in starts if isinstance(s, tf.Operation)], set()
    stack = [s for s in starts if isinstance(s, tf.Tensor)] + [
        o.outputs[0] for o in ops if o.outputs
    ]
    while ops:
        op = ops.pop()
        if op in ran:
            continue
        ran.add(op)
        seen.update(op.inputs)
        ops.extend(t.op for t in op.inputs)
        ops.extend(op.control_inputs)
    while stack:
        t = stack.pop()
        if t in seen:
            continue
        seen.add(t)
        stack.extend(t.op.inputs)
    return seen


def _updated_variable_ops(graph: tf.Graph, path: set) -> set:
    """Variable ops written by UPDATE_OPS that consume a side output of an op on ``path``.

    A training-mode ``FusedBatchNorm`` on the path outputs ``y`` (on the path) and the batch
    mean/variance (side outputs) that its moving-average updates consume.
    """
    path_ops = {t.op for t in path}
    found = set()
    for update in graph.get_collection(v1.GraphKeys.UPDATE_OPS):
        op = getattr(update, "op", update)  # a Tensor, an Operation or an _UnreadVariable
        if not op.inputs or op.inputs[0].op.type not in VARIABLE_OPS:
            continue
        seen, stack = set(), list(op.inputs[1:])
        while stack:
            t = stack.pop()
            if t in seen or t in path:
                continue
            seen.add(t)
            if t.op in path_ops:
                found.add(op.inputs[0].op)
                break
            stack.extend(t.op.inputs)
    return found


def optimizer_state_names(graph: tf.Graph) -> set[str]:
    """Names of the global step and optimizer slot variables (Adam m/v, momentum, ...).

    Slots are the variable handles fed to ``*Apply*`` ops after the variable itself;
    v1 Adam's ``beta1_power``/``beta2_power`` are recognised by name.
    """
    names = {op_name(v.name) for v in graph.get_collection(v1.GraphKeys.GLOBAL_STEP)}
    for op in graph.get_operations():
        if "Apply" in op.type:
            names.update(op_name(t.op.name) for t in op.inputs[1:] if t.op.type in VARIABLE_OPS)
    for name in variables_by_name(graph):
        base = name.rsplit("/", 1)[-1].split("_")
        if name == "global_step" or (base[0] in {"beta1", "beta2"} and base[1:2] == ["power"]):
            names.add(name)
    return names


def model_variables(graph: tf.Graph) -> list[tf.Variable]:
    """Global variables that belong to the model: all but optimizer slots and the step counter."""
    skip = optimizer_state_names(graph)
    return [
        v
        for v in graph.get_collection(v1.GraphKeys.GLOBAL_VARIABLES)
        if op_name(v.name) not in skip
    ]


def ancestor_variables(
    graph: tf.Graph, targets, include_moving_statistics: bool = True
) -> list[tf.Variable]:
    """The variables ``targets`` (tensors, ops or their names) depend on, sorted by name.

    Walks data edges backwards from tensors; an op (a training op, a group) stands for all it
    runs, control dependencies included. Includes BN moving
    statistics written by UPDATE_OPS of a training-mode batch norm on the path unless
    ``include_moving_statistics=False``; excludes optimizer slots and the global step.
    Raises :class:`~ftcore.errors.UnknownNameError` (with close matches) for an unknown name.
    """
    path = _ancestor_tensors(_as_tensors_or_ops(graph, targets))
    var_ops = {t.op for t in path if t.op.type in VARIABLE_OPS}
    if include_moving_statistics:
        var_ops |= _updated_variable_ops(graph, path)
    by_op = {v.op: v for v in graph.get_collection(v1.GraphKeys.GLOBAL_VARIABLES)}
    orphans = sorted(op.name for op in var_ops if op not in by_op)
    if orphans:
        raise MismatchError(
            f"variable ops {orphans[:5]} have no Variable object in the GLOBAL_VARIABLES "
            "collection (graph imported without its collections?); cannot build a var_list"
        )
    skip = optimizer_state_names(graph)
    chosen = [by_op[op] for op in var_ops if op_name(by_op[op].name) not in skip]
    return sorted(chosen, key=lambda v: v.name)


def parse_scopes(scopes: str | Iterable[str] | None) -> list[str]:
    """Scopes from a comma-separated flag value or a list, trailing ``/`` dropped.

    >>> parse_scopes("MobilenetV2/Logits/, finetune_layers")
    ['MobilenetV2/Logits', 'finetune_layers']
    """
    if scopes is None:
        return []
    items = scopes.split(",") if isinstance(scopes, str) else list(scopes)
    return [s.strip().rstrip("/") for s in items if s.strip().rstrip("/")]


def all_scopes(names: Iterable[str]) -> list[str]:
    """Every scope (and name) the ``names`` lie in, sorted: candidates for close matches.

    >>> all_scopes(["a/b/w", "a/c"])
    ['a', 'a/b', 'a/b/w', 'a/c']
    """
    return sorted({n.rsplit("/", k)[0] for n in names for k in range(n.count("/") + 1)})


def in_scope(name: str, scope: str) -> bool:
    """True if ``name`` is ``scope`` or lies under it (``"a/b"`` covers ``"a/b/w"``, not ``"a/bc"``).

    >>> in_scope("a/b/w:0", "a/b"), in_scope("a/bc/w", "a/b")
    (True, False)
    """
    name = op_name(name)
    return name == scope or name.startswith(scope + "/")


def filter_by_scopes(
    items: Iterable[T],
    include: str | Iterable[str] | None = None,
    exclude: str | Iterable[str] | None = None,
) -> list[T]:
    """Keep variables (or names) under any ``include`` scope and under no ``exclude`` scope.

    Scopes are a comma-separated string (slim flag style) or a list; ``include=None`` keeps all.
    A scope that matches no item raises :class:`~ftcore.errors.UnknownNameError` with close
    matches, so a typo never silently selects nothing.

        >>> filter_by_scopes(["net/a/w", "net/b/w", "head/w"], include="net", exclude="net/b")
        ['net/a/w']
    """
    items = list(items)  # a generator is read once
    names = [op_name(i if isinstance(i, str) else i.name) for i in items]
    inc, exc = parse_scopes(include), parse_scopes(exclude)
    for scope in inc + exc:
        if not any(in_scope(n, scope) for n in names):
            raise unknown_name("scope", scope, all_scopes(names), where="the variables")
    return [
        item
        for item, name in zip(items, names, strict=True)
        if (not inc or any(in_scope(name, s) for s in inc))
        and not any(in_scope(name, s) for s in exc)
    ]
