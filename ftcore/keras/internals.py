"""The private Keras 3 attributes ftcore relies on, one function each, with the reason.

Keras 3 offers no public equivalent for these; ``tests/unit/keras/test_internals.py`` fails
loudly if a Keras release changes any of them, so a break shows up here and nowhere else.
"""

from __future__ import annotations

import keras


def inbound_nodes(layer: keras.layers.Layer) -> list:
    """The nodes where ``layer`` was called (each has ``input_tensors``).

    Why private: Keras 3 exposes no list of a layer's call sites, which cutting a backbone
    nested in another model (re-applying it to the outer graph's tensors) and refusing a head
    layer that is already in use both need.
    """
    return layer._inbound_nodes


def trainable_capable_variables(layer: keras.layers.Layer) -> list:
    """The variables of ``layer`` (not of its sublayers) that train when it is trainable.

    Why private: while a layer is frozen, ``trainable_weights`` is empty and every variable's
    ``.trainable`` is False, so the public API cannot tell BN's gamma from its moving mean.
    """
    return layer._trainable_variables


def optimizer_variable_index(optimizer: keras.optimizers.Optimizer, variable) -> int:
    """The position of ``variable`` in the list ``optimizer`` was built with.

    Why private: ``update_step`` receives only the variable; Keras' own optimizers find its
    slot state with this index, and ftcore's per-variable learning-rate multipliers follow them
    (a lookup by path would not see the mirrored variables of a distribution strategy).
    """
    return optimizer._get_variable_index(variable)


def clear_captured_strategy(model: keras.Model) -> None:
    """Make ``model`` build when its step function is traced, not under the strategy it captured.

    Why private: Keras 3.15 builds a model created in a multi-worker strategy's scope by
    reducing a whole ``(x, y)`` batch, which that strategy cannot do (keras-team/keras#20585);
    with no captured strategy Keras takes its own trace-time path. See
    :mod:`ftcore.keras.multi_worker`.
    """
    model._distribute_strategy = None


def tensor_source(tensor) -> tuple[keras.layers.Layer, object]:
    """``(layer, node)``: the layer call that produced the symbolic ``tensor``.

    Why private: Keras 3 has no public way to walk a functional graph from a tensor back to
    the layer that computed it, which splitting a model at an inner layer (and refusing a
    split that a skip connection crosses) needs.
    """
    operation, node_index, _ = tensor._keras_history
    return operation, inbound_nodes(operation)[node_index]
