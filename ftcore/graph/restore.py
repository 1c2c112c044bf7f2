"""The three ways to get a pretrained TF1 graph back, each one call.

1. :func:`restore_meta_graph`: import the structure from ``*.meta``, restore the newest
   checkpoint of a directory.
2. :func:`restore_built_graph` / :func:`restore_slim_mobilenet_v2`: build the graph in code,
   then restore (a subset, renamed, strict or lenient: see :mod:`ftcore.graph.restore_plan`).
3. :func:`load_pb`: load a frozen ``.pb`` (safety-checked) and look tensors up with
   or without the ``import/`` prefix.

Methods 1 and 2 return a :class:`RestoredGraph`, whose :meth:`~RestoredGraph.value` reads a
variable's *value* by name (``get_tensor_by_name("w:0")`` on a resource variable is only a
handle).

    >>> import numpy as np
    >>> from ftcore_fixtures.build import ensure_built
    >>> built = ensure_built()  # the test models: a slim MobileNetV2 checkpoint and its .pb
    >>> images = np.zeros((4, 32, 32, 3), np.float32)
    >>> with restore_meta_graph(built.slim_ckpt_dir) as net:  # 1. from the .meta
    ...     w = net.value("MobilenetV2/Conv/weights")
    ...     p1 = net.run("MobilenetV2/Predictions/Reshape_1", {"input": images})
    >>> w.shape, p1.shape
    ((3, 3, 3, 16), (4, 5))
    >>> with restore_slim_mobilenet_v2(built.slim_ckpt_dir, 5, 0.35) as net:  # 2. built in code
    ...     p2 = net.run("MobilenetV2/Predictions/Reshape_1", {"input": images})
    >>> with load_pb(built.frozen_pb) as net:  # 3. a frozen .pb
    ...     p3 = net.run("MobilenetV2/Predictions/Reshape_1", {"import/input": images})
    >>> bool(np.allclose(p1, p2, atol=1e-5) and np.allclose(p1, p3, atol=1e-5))
    True
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from ftcore.errors import (
    InvalidFileError,
    MismatchError,
    MissingFileError,
    UnknownNameError,
    first_line,
    unknown_name,
)
from ftcore.graph.checkpoint_files import resolve_checkpoint
from ftcore.graph.names import (
    import_graph,
    list_tensors,
    op_name,
    resolve_tensor,
    resolve_variable,
)
from ftcore.graph.restore_plan import RestorePlan, plan_restore, restore_and_initialize
from ftcore.graph.safety import (  # meta_allowed_ops, read_meta_graph_def: ftcore/app/cli.py
    check_graph,
    load_graph_def,
    meta_allowed_ops,
    read_meta_graph_def,
)
from ftcore.graph.var_selection import model_variables

v1 = tf.compat.v1

Feeds = Mapping[str, Any]


def _run(session, find: Callable[[str], tf.Tensor], fetches, feeds: Feeds | None):
    single = isinstance(fetches, str)
    tensors = [find(f) for f in ([fetches] if single else fetches)]
    feed_dict = {find(k): v for k, v in (feeds or {}).items()}
    out = session.run(tensors, feed_dict)
    return out[0] if single else out


@dataclass
class RestoredGraph:
    """A graph with a session holding restored weights (methods 1 and 2); close when done."""

    graph: tf.Graph
    session: v1.Session
    plan: RestorePlan

    def tensor(self, name: str) -> tf.Tensor:
        """The tensor ``name`` (``"op"`` or ``"op:0"``); unknown names list close matches."""
        return resolve_tensor(self.graph, name)

    def value(self, name: str) -> np.ndarray:
        """The current value of variable ``name`` (``"scope/w"`` or ``"scope/w:0"``)."""
        return read_variable(self.session, name)

    def run(self, fetches: str | Sequence[str], feeds: Feeds | None = None):
        """Run tensors by name, feeding by name: ``run("logits", {"input": x})``."""
        return _run(self.session, self.tensor, fetches, feeds)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> RestoredGraph:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_variable(session: v1.Session, name: str) -> np.ndarray:
    """The value of the variable ``name`` in ``session``'s graph (never its resource handle)."""
    return session.run(resolve_variable(session.graph, name))


def load_meta_graph(meta: str | os.PathLike, trust: bool = False) -> tf.Graph:
    """Import a ``.meta`` file into a new graph (structure only, no weights), safety-checked.

    Ops outside inference, variables, saving, gradients, optimizers and summaries raise
    :class:`~ftcore.errors.UnsafeGraphError` unless ``trust=True``.
    """
    meta_def = read_meta_graph_def(meta)
    check_graph(
        meta_def.graph_def, meta_allowed_ops(meta_def.graph_def), trust=trust, source=str(meta)
    )
    graph = tf.Graph()
    try:
        with graph.as_default():
            v1.train.import_meta_graph(meta_def, clear_devices=True)
    except Exception as e:  # noqa: BLE001 - a corrupt collection raises DecodeError, KeyError...
        raise InvalidFileError(
            f"{meta}: the meta graph cannot be imported: {first_line(e)}"
        ) from None
    return graph


def find_meta(prefix: str) -> Path:
    """The ``.meta`` of checkpoint ``prefix``; the error lists the meta graphs beside it."""
    meta = Path(prefix + ".meta")
    if meta.is_file():
        return meta
    metas = sorted(p.name for p in Path(prefix).parent.glob("*.meta"))
    raise MissingFileError(
        f"checkpoint {prefix!r} has no meta graph {meta.name}"
        + (f"; meta graphs there: {metas} (pass meta=...)" if metas else "")
    )


def _restored(
    graph: tf.Graph, variables, checkpoint, strict, assignment_map, config=None
) -> RestoredGraph:
    plan = plan_restore(variables, checkpoint, assignment_map)
    session = v1.Session(graph=graph, config=config)
    try:
        restore_and_initialize(session, plan, strict=strict)
    except BaseException:
        session.close()
        raise
    return RestoredGraph(graph, session, plan)


def restore_meta_graph(
    checkpoint: str | os.PathLike,
    meta: str | os.PathLike | None = None,
    strict: bool = True,
    trust: bool = False,
    config: v1.ConfigProto | None = None,
) -> RestoredGraph:
    """Method 1: import ``meta`` (default: the checkpoint's own ``.meta``) and restore.

    ``checkpoint`` is a directory (its newest checkpoint), a prefix or a checkpoint file.
    Every model variable of the meta graph (optimizer slots and the step counter aside) must
    be in the checkpoint with its shape and dtype, else :class:`MismatchError` with the plan
    report: that is what a ``.meta`` from another graph produces. ``config`` configures the
    session (devices, threads).
    """
    prefix = resolve_checkpoint(checkpoint)
    meta_path = Path(meta) if meta is not None else find_meta(prefix)
    graph = load_meta_graph(meta_path, trust=trust)
    try:
        return _restored(graph, model_variables(graph), prefix, strict, None, config)
    except MismatchError as e:
        raise MismatchError(
            f"meta graph {meta_path} does not match checkpoint {prefix} (a .meta from another "
            f"graph?): {e}"
        ) from None


def restore_built_graph(
    build: Callable[[], Any],
    checkpoint: str | os.PathLike,
    var_list: Callable[[tf.Graph], Iterable[tf.Variable]] | None = None,
    strict: bool = True,
    assignment_map: Mapping[str, str] | None = None,
) -> RestoredGraph:
    """Method 2: call ``build()`` inside a new graph, then restore ``var_list(graph)``.

    ``var_list`` defaults to all model variables (not optimizer state); pass e.g.
    ``lambda g: ancestor_variables(g, "MobilenetV2/expanded_conv_14/output")`` to restore a
    subset. Variables not restored are initialized (never the other way round).

        >>> from ftcore.graph.nets.slim_mobilenet_v2 import mobilenet_v2
        >>> from ftcore.graph.var_selection import ancestor_variables
        >>> from ftcore_fixtures.build import ensure_built
        >>> def build():
        ...     x = tf.compat.v1.placeholder(tf.float32, [None, 32, 32, 3], name="input")
        ...     mobilenet_v2(x, num_classes=5, depth_multiplier=0.35)
        >>> upto = lambda g: ancestor_variables(g, "MobilenetV2/expanded_conv_14/output")
        >>> with restore_built_graph(build, ensure_built().slim_ckpt_dir, upto) as net:
        ...     print(net.plan.report().splitlines()[0].split(": ", 1)[1])
        225 to restore, 0 graph-only, 38 checkpoint-only, 0 shape/dtype mismatches
    """
    graph = tf.Graph()
    with graph.as_default():
        build()
    variables = var_list(graph) if var_list is not None else model_variables(graph)
    return _restored(graph, list(variables), checkpoint, strict, assignment_map)


def restore_slim_mobilenet_v2(
    checkpoint: str | os.PathLike,
    num_classes: int,
    depth_multiplier: float = 1.0,
    image_size: int | None = None,
    is_training: bool = False,
    strict: bool = True,
) -> RestoredGraph:
    """Method 2 for the slim MobileNetV2: placeholder ``input`` ``[None, S, S, 3]``, then restore."""
    from ftcore.graph.nets.slim_mobilenet_v2 import mobilenet_v2

    def build() -> None:
        x = v1.placeholder(tf.float32, [None, image_size, image_size, 3], name="input")
        mobilenet_v2(x, num_classes, depth_multiplier=depth_multiplier, is_training=is_training)

    return restore_built_graph(build, checkpoint, strict=strict)


@dataclass
class PbGraph:
    """A frozen ``.pb`` imported under ``prefix`` with a session (method 3); close when done."""

    graph: tf.Graph
    session: v1.Session
    prefix: str
    path: str

    def tensor(self, name: str) -> tf.Tensor:
        """The tensor ``name``, given with or without this graph's ``prefix/``.

        A name carrying an ``import/`` prefix the graph was not loaded with is reported as
        such, with the name that does exist.
        """
        full = name if op_name(name) != name else f"{name}:0"
        names = set(list_tensors(self.graph))
        for candidate in (full, f"{self.prefix}/{full}" if self.prefix else full):
            if candidate in names:
                return self.graph.get_tensor_by_name(candidate)
        first, _, rest = full.partition("/")
        fixed = [n for n in (rest, f"{self.prefix}/{rest}") if rest and n in names]
        if fixed:
            loaded = f"prefix {self.prefix!r}" if self.prefix else "no name prefix"
            raise UnknownNameError(
                f"unknown tensor {full!r} in {self.path}: the graph was loaded with {loaded}, "
                f"so its names do not start with {first + '/'!r}; use {fixed[0]!r}"
            )
        raise unknown_name("tensor", full, sorted(names), where=self.path)

    def run(self, fetches: str | Sequence[str], feeds: Feeds | None = None):
        """Run tensors by name, feeding by name: ``run("MobilenetV2/Predictions/Reshape_1", {"input": x})``."""
        return _run(self.session, self.tensor, fetches, feeds)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> PbGraph:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def load_pb(path: str | os.PathLike, prefix: str = "import", trust: bool = False) -> PbGraph:
    """Method 3: load a frozen ``.pb`` (refusing file/code ops unless ``trust=True``).

    Tensors are then looked up with or without ``prefix`` (TF's default ``"import"``);
    see the module's example.
    """
    graph = import_graph(load_graph_def(path, trust=trust), prefix, source=str(path))
    return PbGraph(graph, v1.Session(graph=graph), prefix, str(path))
