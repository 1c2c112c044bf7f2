"""Prefix caching: when a stage trains only layers from ``k`` on, run the frozen prefix once.

The frozen layers before the first trained one (``model.layers[:k]``) compute the same
function in every training step when none of them trains or behaves differently in training
(a trainable BatchNormalization, Dropout, noise or random augmentation layers) and the
inputs are not augmented. Their outputs can then be computed once (:func:`extract_features
<ftcore.keras.feature_cache.extract_features>`) and the rest of the model (layers ``k..``,
head included) trained on them, with the same weights as training the whole model: the
head-only feature cache is this cache with ``k`` at the head (:func:`cache_start`).

The split must be a chain: one tensor crosses the cut. A skip connection from before ``k``
to a layer after it (a MobileNetV2 residual add when ``k`` is inside a block) makes
:func:`prefix_blockers` say so and the stage train through the whole model.

    >>> import keras
    >>> from ftcore.keras.head import attach_head
    >>> from ftcore.keras.stages import unfreeze_stage
    >>> inp = keras.Input((8, 8, 3))
    >>> h = keras.layers.Conv2D(4, 3, name="c1")(inp)
    >>> base = keras.Model(inp, keras.layers.Conv2D(4, 3, name="c2")(h))
    >>> model = attach_head(base, "gap", num_classes=2)
    >>> _ = unfreeze_stage("c2").apply(model)
    >>> plan = plan_prefix(model); model.layers[plan.start].name, plan.blockers
    ('c2', [])
    >>> prefix, rest = plan.split(model); rest.layers[1].name
    'c2'
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import keras

from ftcore.keras.backbone import model_inputs
from ftcore.keras.head import head_start
from ftcore.keras.internals import tensor_source, trainable_capable_variables
from ftcore.keras.trainable import leaves, trainable_flags

_STOCHASTIC = ("Dropout", "Noise")


def training_dependent(layer: keras.layers.Layer, trainable: bool) -> bool:
    """True if ``layer`` computes something else in training mode (given its flag)."""
    if isinstance(layer, keras.layers.BatchNormalization):
        return trainable
    kind = type(layer).__name__
    if any(s in kind for s in _STOCHASTIC) or kind.startswith("Random"):
        return True
    # A custom layer taking `training` may do anything with it: do not cache through it.
    return (
        not type(layer).__module__.startswith("keras.")
        and "training" in inspect.signature(layer.call).parameters
    )


def cache_start(model: keras.Model) -> int:
    """The index in ``model.layers`` where the cached part ends: the first top-level layer
    holding a trainable variable, or the head's first layer if that comes earlier."""
    flags = trainable_flags(model)
    for i, layer in enumerate(model.layers[: head_start(model)]):
        under = [(p, lay) for p, lay in leaves(model) if p.split("/", 1)[0] == layer.name]
        if any(flags[p] and trainable_capable_variables(lay) for p, lay in under):
            return i
    return head_start(model)


def crossings(model: keras.Model, start: int) -> list[tuple[str, keras.KerasTensor, str]]:
    """``(consumer, tensor, producer)`` for every tensor that layers ``start..`` (or a model
    output, consumer ``"output"``) read from a layer before ``start``, distinct tensors."""
    after = {id(layer) for layer in model.layers[start:]}
    found, seen, todo = [], set(), [("output", t) for t in model.outputs]
    while todo:
        consumer, tensor = todo.pop()
        layer, node = tensor_source(tensor)
        if id(layer) not in after:
            if id(tensor) not in {id(t) for _, t, _ in found}:
                found.append((consumer, tensor, layer.name))
        elif id(node) not in seen:
            seen.add(id(node))
            todo.extend((layer.name, t) for t in reversed(node.input_tensors))
    order = {layer.name: i for i, layer in enumerate(model.layers)}
    return sorted(found, key=lambda c: order.get(c[0], len(order)))


def prefix_blockers(model: keras.Model, start: int, augment: object | None = None) -> list[str]:
    """Why training ``model.layers[start:]`` on cached outputs of the layers before would
    differ from training ``model`` (with its current flags), or cannot be done; empty when
    it is valid. There is no size limit: cached outputs past ``FitOptions.cache_ram_bytes``
    spill to disk (:mod:`ftcore.keras.feature_store`)."""
    computing = [
        lay for lay in model.layers[:start] if not isinstance(lay, keras.layers.InputLayer)
    ]
    if start >= len(model.layers):
        return [f"model {model.name!r}: no layer trains, nothing to train on cached outputs"]
    first = model.layers[start].name
    if not computing:
        return [f"nothing before {first!r} (the first layer that trains) to cache"]
    what = "base layer" if start == head_start(model) else "prefix layer"
    reasons = [augment_blocker(augment)] if augment is not None else []
    before = {layer.name for layer in model.layers[:start]}
    flags = trainable_flags(model)
    for path, layer in leaves(model):
        if path.split("/", 1)[0] not in before:
            continue
        if flags[path] and trainable_capable_variables(layer):
            reasons.append(f"{what} {path!r} is trainable")
        elif training_dependent(layer, flags[path]):
            kind = type(layer).__name__
            reasons.append(f"{what} {path!r} ({kind}) behaves differently in training")
    cross = crossings(model, start)
    if not cross:
        return [*reasons, f"no tensor from before {first!r} reaches the outputs"]
    for consumer, _, producer in cross[1:]:
        reasons.append(
            f"layer {consumer!r} after the cut at {first!r} reads {producer!r} before it "
            "(a skip connection crosses the cut: not a chain)"
        )
    return reasons


def augment_blocker(augment) -> str:
    """Why augmented inputs cannot be cached (a preset name or a function)."""
    what = (
        f"augmentation preset {augment!r}"
        if isinstance(augment, str)
        else "an augmentation function"
    )
    return (
        f"{what} is applied to the training inputs: augmentation turns the feature cache off "
        "for the stages it applies to (the frozen layers must see every augmented batch)"
    )


def split_at(
    model: keras.Model, start: int, names: tuple[str, str] = ("prefix", "suffix")
) -> tuple[keras.Model, keras.Model]:
    """``(prefix, suffix)`` models sharing ``model``'s layers, ``suffix(prefix(x)) ==
    model(x)``: the suffix's input is the one tensor crossing the cut before
    ``model.layers[start]``, so training the suffix trains ``model``'s layers ``start..``.

    Raises ValueError when more than one tensor crosses the cut (see :func:`crossings`).
    """
    cross = crossings(model, start)
    if len(cross) != 1:
        raise ValueError(
            f"cannot split model {model.name!r} at {model.layers[start].name!r}: layers "
            + ", ".join(f"{c!r} (reads {p!r})" for c, _, p in cross)
            + " read tensors from before the cut; a prefix cache needs exactly one"
        )
    cut = cross[0][1]
    prefix = keras.Model(model_inputs(model), cut, name=f"{model.name}_{names[0]}")
    return prefix, keras.Model(cut, model.outputs, name=f"{model.name}_{names[1]}")


@dataclass(frozen=True)
class PrefixPlan:
    """Where a stage's cache would cut (``model.layers[start]`` is the first layer trained
    on cached outputs) and why it cannot (``blockers``; empty when it can)."""

    start: int
    blockers: list[str]

    def split(self, model: keras.Model) -> tuple[keras.Model, keras.Model]:
        """``(prefix, suffix)``: see :func:`split_at`."""
        return split_at(model, self.start)


def plan_prefix(model: keras.Model, augment: object | None = None) -> PrefixPlan:
    """The cache plan for ``model`` with its current trainable flags (set by a stage)."""
    start = cache_start(model)
    return PrefixPlan(start, prefix_blockers(model, start, augment))
