"""Freeze and unfreeze layers by name, index, slice, regex or "everything before the head".

Selectors (``Selector``):

- ``int`` / ``slice``: positions in ``model.layers`` (slice bounds may be layer names);
- ``str``: a layer name or nested path (``"mobilenet_0.25_32/conv1"``), or one of
  ``"base"`` (everything before the head), ``"head"``, ``"all"``;
- ``re.Pattern``: every layer (nested ones too) whose path matches (``re.search``);
- a list of selectors (their union).

Flags are applied to *leaf* layers; a nested model is trainable when any of its leaves is,
so unfreezing part of a nested backbone works (Keras cascades ``trainable`` downwards).
A layer with ``trainable=False`` runs in inference mode in Keras 3, so a frozen
BatchNormalization uses and keeps its moving statistics.

**BatchNormalization: one rule** (:func:`bn_rule`), shared by :func:`freeze`,
:func:`unfreeze_from` and :class:`~ftcore.keras.stages.Stage`. ``train_bn`` decides for the
pretrained BatchNormalization layers (those before the head), whatever the selection says:

- ``train_bn=False`` (the default) keeps every one frozen: inference mode, moving statistics
  and affine parameters unchanged, also inside a part that unfreezes. This is the Keras
  transfer-learning guide's advice for pretrained nets: a trainable BN normalises with the
  small fine-tuning batches and overwrites the statistics the pretrained weights rely on.
- ``train_bn=True`` makes every one trainable, also in a frozen part (fastai's and
  Lightning's ``train_bn``): affine parameters train, batch statistics in training, moving
  statistics update. Training from scratch wants this (``Stage(train="all", train_bn=True)``).

Head layers, BN included, follow the selection: they are new and have no statistics to
protect. :func:`freeze` touches only the layers it selects, so the rule applies to those.

    >>> import keras
    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="a"),
    ...                       keras.layers.Dense(2, name="head_out")])
    >>> _ = freeze(m, "base"); [layer.trainable for layer in m.layers]
    [False, True]
    >>> print(freeze_report(m))  # doctest: +NORMALIZE_WHITESPACE
      # layer     type    params  trainable  state      next stage
      0 a         Dense   15      0          frozen     frozen
      1 head_out  Dense   8       8          trainable  trains
    total params 23, trainable now 8, next stage trains 8
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import keras

from ftcore.errors import unknown_name
from ftcore.keras.backbone import iter_layers
from ftcore.keras.head import head_start, in_head
from ftcore.keras.internals import trainable_capable_variables
from ftcore.text_table import format_table

Selector = int | slice | str | re.Pattern | Sequence["Selector"]


def leaves(model: keras.Model, prefix: str = "") -> list[tuple[str, keras.layers.Layer]]:
    """``(path, layer)`` of every non-model layer, depth first in ``model.layers`` order."""
    return [
        (p, lay) for p, lay, _ in iter_layers(model, prefix) if not isinstance(lay, keras.Model)
    ]


def _leaf_paths_under(layer: keras.layers.Layer, path: str) -> list[str]:
    if isinstance(layer, keras.Model):
        return [p for p, _ in leaves(layer, path + "/")]
    return [path]


def _index_of(model: keras.Model, bound) -> int | None:
    if bound is None or isinstance(bound, int):
        return bound
    names = [layer.name for layer in model.layers]
    if bound not in names:
        raise unknown_name("layer", bound, names, where=model.name)
    return names.index(bound)


def select(model: keras.Model, selector: Selector) -> list[str]:
    """Leaf layer paths chosen by ``selector`` (see the module docstring), in model order.

    >>> import keras
    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="a"),
    ...                       keras.layers.Dense(2, name="b")])
    >>> select(m, slice("b", None)), select(m, re.compile("a|b"))
    (['b'], ['a', 'b'])
    """
    order = [p for p, _ in leaves(model)]
    top = model.layers
    chosen: set[str] = set()
    if isinstance(selector, bool):
        raise TypeError("a selector cannot be a bool")
    if isinstance(selector, (int, slice)):
        if isinstance(selector, slice):
            s = slice(
                _index_of(model, selector.start), _index_of(model, selector.stop), selector.step
            )
            picked = top[s]
        else:
            if not -len(top) <= selector < len(top):
                raise IndexError(f"layer index {selector} out of range for {len(top)} layers")
            picked = [top[selector]]
        for layer in picked:
            chosen.update(_leaf_paths_under(layer, layer.name))
    elif isinstance(selector, re.Pattern):
        for path, layer, _ in iter_layers(model):
            if selector.search(path):
                chosen.update(_leaf_paths_under(layer, path))
    elif isinstance(selector, str):
        start = head_start(model)
        if selector in ("base", "head", "all"):
            picked = {"base": top[:start], "head": top[start:], "all": top}[selector]
            for layer in picked:
                chosen.update(_leaf_paths_under(layer, layer.name))
        else:
            matches = [
                (p, layer) for p, layer, _ in iter_layers(model) if selector in (p, layer.name)
            ]
            if not matches:
                raise unknown_name("layer", selector, _names(model), where=model.name)
            path, layer = matches[0]
            chosen.update(_leaf_paths_under(layer, path))
    else:
        for sub in selector:
            chosen.update(select(model, sub))
    return [p for p in order if p in chosen]


def _names(model: keras.Model) -> list[str]:
    """Layer paths and bare names (so a mistyped nested name still finds its match)."""
    found = [(p, layer) for p, layer, _ in iter_layers(model)]
    return list(dict.fromkeys([p for p, _ in found] + [layer.name for _, layer in found]))


def trainable_flags(model: keras.Model) -> dict[str, bool]:
    """Effective trainable flag of every leaf layer (False if it or any parent is frozen).

    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, name="d")])
    >>> m.trainable = False; trainable_flags(m)
    {'d': False}
    """
    flags: dict[str, bool] = {}

    def walk(m: keras.Model, prefix: str, parent: bool) -> None:
        for layer in m.layers:
            on = parent and layer.trainable
            if isinstance(layer, keras.Model):
                walk(layer, prefix + layer.name + "/", on)
            else:
                flags[prefix + layer.name] = on

    walk(model, "", model.trainable)
    return flags


def set_trainable_flags(model: keras.Model, flags: dict[str, bool]) -> None:
    """Set leaf flags (paths as from :func:`trainable_flags`); missing paths keep their state.

    Containers are set first (Keras cascades), then their leaves, so the result is exact.

    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, name="d")])
    >>> saved = trainable_flags(m); _ = freeze(m, "all"); set_trainable_flags(m, saved)
    >>> trainable_flags(m) == saved
    True
    """
    wanted = {**trainable_flags(model), **flags}

    def apply(m: keras.Model, prefix: str) -> None:
        for layer in m.layers:
            path = prefix + layer.name
            if isinstance(layer, keras.Model):
                layer.trainable = any(v for p, v in wanted.items() if p.startswith(path + "/"))
                apply(layer, path + "/")
            else:
                layer.trainable = wanted[path]

    model.trainable = any(wanted.values())
    apply(model, "")


def base_batchnorm(model: keras.Model) -> list[str]:
    """Leaf paths of the BatchNormalization layers before the head (the pretrained ones)."""
    return [
        p
        for p, layer in leaves(model)
        if isinstance(layer, keras.layers.BatchNormalization) and not in_head(model, p)
    ]


def bn_rule(model: keras.Model, flags: dict[str, bool], train_bn: bool = False) -> dict[str, bool]:
    """``flags`` (leaf path -> trainable) with the BatchNormalization rule applied: every
    pretrained BN layer among ``flags`` gets ``train_bn`` (see the module docstring).

    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.BatchNormalization(name="bn"),
    ...                       keras.layers.Dense(1, name="head_o")])
    >>> bn_rule(m, {"bn": True, "head_o": True}), bn_rule(m, {"head_o": False}, train_bn=True)
    ({'bn': False, 'head_o': True}, {'head_o': False})
    """
    return {**flags, **{p: train_bn for p in base_batchnorm(model) if p in flags}}


def freeze(model: keras.Model, selector: Selector = "base", *, train_bn: bool = False) -> list[str]:
    """Freeze the selected layers (default: everything before the head); return the paths
    frozen. ``train_bn=True`` leaves the selected pretrained BN layers trainable (the
    BatchNormalization rule in the module docstring).

    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, name="a"),
    ...                       keras.layers.Dense(1, name="head_o")])
    >>> freeze(m), unfreeze(m, "a"), unfreeze_from(m, "head_o")
    (['a'], ['a'], ['head_o'])
    """
    flags = bn_rule(model, dict.fromkeys(select(model, selector), False), train_bn)
    set_trainable_flags(model, flags)
    return [p for p, on in flags.items() if not on]


def unfreeze(model: keras.Model, selector: Selector = "all") -> list[str]:
    """Make the selected layers trainable; return their paths (example: :func:`freeze`)."""
    paths = select(model, selector)
    set_trainable_flags(model, dict.fromkeys(paths, True))
    return paths


def first_leaf_from(model: keras.Model, start: int | str) -> str | None:
    """The leaf path where "from ``start`` on" begins (None if ``start`` is past the end).

    ``start`` is an index into ``model.layers`` or a layer name / nested path.
    """
    first = select(model, slice(start, None) if isinstance(start, int) else start)
    return first[0] if first else None


def unfreeze_from(model: keras.Model, start: int | str, *, train_bn: bool = False) -> list[str]:
    """Make layers from ``start`` on trainable (the seed recipe's ``model.layers[80:]``), freeze the
    rest; pretrained BN layers follow ``train_bn`` (the BatchNormalization rule in the module
    docstring).

    ``start`` is an index into ``model.layers`` or a layer name / nested path; for a nested
    backbone the leaf order is used, so ``"mobilenet_0.25_32/conv_dw_12"`` unfreezes from there.
    Returns the trainable paths (example: :func:`freeze`).
    """
    order = [p for p, _ in leaves(model)]
    k = order.index(first) if (first := first_leaf_from(model, start)) else len(order)
    flags = bn_rule(model, {p: i >= k for i, p in enumerate(order)}, train_bn)
    set_trainable_flags(model, flags)
    return [p for p, on in trainable_flags(model).items() if on]


@dataclass(frozen=True)
class LayerRow:
    """One line of :class:`FreezeReport`."""

    index: int
    path: str
    type: str
    params: int
    trainable_params: int
    trainable_capable: int
    trainable: bool
    trains_next: bool
    head: bool


@dataclass(frozen=True)
class FreezeReport:
    """Per-layer table: frozen or trainable now, parameter counts, what the next stage trains."""

    rows: tuple[LayerRow, ...]

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def trainable_params(self) -> int:
        return sum(r.trainable_params for r in self.rows)

    @property
    def next_trainable_params(self) -> int:
        return sum(r.trainable_capable for r in self.rows if r.trains_next)

    def __str__(self) -> str:
        head = ("#", "layer", "type", "params", "trainable", "state", "next stage")
        body = [
            (
                str(r.index),
                r.path,
                r.type,
                str(r.params),
                str(r.trainable_params),
                "trainable" if r.trainable else "frozen",
                "trains" if r.trains_next else "frozen",
            )
            for r in self.rows
        ]
        totals = (
            f"total params {self.total_params}, trainable now {self.trainable_params}, "
            f"next stage trains {self.next_trainable_params}"
        )
        return format_table(head, body, right={0}) + "\n" + totals


def _n(weights) -> int:
    return int(sum(int(w.numpy().size) for w in weights))


def freeze_report(model: keras.Model, next_trainable: Selector | None = None) -> FreezeReport:
    """The per-layer table; ``next_trainable`` selects what the next stage trains (default: the
    layers trainable now). Layers without weights are listed only if they are head layers.
    See the module docstring for the printed table.
    """
    flags = trainable_flags(model)
    nxt = set(select(model, next_trainable)) if next_trainable is not None else None
    rows = []
    for i, (path, layer) in enumerate(leaves(model)):
        head = in_head(model, path)
        if not layer.weights and not head:
            continue
        on = flags[path]
        rows.append(
            LayerRow(
                index=i,
                path=path,
                type=type(layer).__name__,
                params=_n(layer.weights),
                trainable_params=_n(layer.trainable_weights) if on else 0,
                trainable_capable=_n(trainable_capable_variables(layer)),
                trainable=on,
                trains_next=(path in nxt) if nxt is not None else on,
                head=head,
            )
        )
    return FreezeReport(tuple(rows))
