"""Shared helpers for the Keras-path tests: tiny random networks and weight snapshots."""

from __future__ import annotations

import keras
import numpy as np
from hypothesis import strategies as st

from ftcore.keras.head import attach_head
from ftcore.keras.trainable import leaves

N_CLASSES = 3


@st.composite
def net_specs(draw):
    """A small random network: conv or dense blocks, each maybe with BN and Dropout."""
    kind = draw(st.sampled_from(["conv", "dense"]))
    blocks = draw(
        st.lists(st.tuples(st.integers(2, 4), st.booleans(), st.booleans()), min_size=1, max_size=3)
    )
    head_bn = draw(st.booleans())
    return {"kind": kind, "blocks": blocks, "head_bn": head_bn}


def build_net(spec: dict, seed: int | None = 0) -> keras.Model:
    """Build the network of ``spec``: base layers ``b<i>_*``, head layers ``head_*``.

    Layers followed by BN have no bias (its gradient would be zero in training mode), and
    activations are tanh, so every trainable variable gets a gradient.
    """
    if seed is not None:
        keras.utils.set_random_seed(seed)
    shape = (6, 6, 2) if spec["kind"] == "conv" else (5,)
    inp = keras.Input(shape, name="x")
    h = inp
    for i, (width, bn, dropout) in enumerate(spec["blocks"]):
        if spec["kind"] == "conv":
            h = keras.layers.Conv2D(
                width,
                3,
                padding="same",
                use_bias=not bn,
                activation=None if bn else "tanh",
                name=f"b{i}_conv",
            )(h)
        else:
            h = keras.layers.Dense(
                width, use_bias=not bn, activation=None if bn else "tanh", name=f"b{i}_dense"
            )(h)
        if bn:
            h = keras.layers.BatchNormalization(name=f"b{i}_bn")(h)
            h = keras.layers.Activation("tanh", name=f"b{i}_act")(h)
        if dropout:
            h = keras.layers.Dropout(0.1, name=f"b{i}_drop")(h)
    if spec["kind"] == "conv":
        h = keras.layers.GlobalAveragePooling2D(name="pool")(h)
    base = keras.Model(inp, h, name="base")
    head = [keras.layers.Dense(4, use_bias=not spec["head_bn"], name="hidden")]
    if spec["head_bn"]:
        head.append(keras.layers.BatchNormalization(name="bn"))
    head += [
        keras.layers.Activation("tanh", name="act"),
        keras.layers.Dense(N_CLASSES, name="logits"),
        keras.layers.Activation("softmax", name="softmax"),
    ]
    return attach_head(base, head)


def data_for(model: keras.Model, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random inputs for ``model`` and labels covering every class."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, *model.inputs[0].shape[1:])).astype("float32")
    y = np.arange(n) % N_CLASSES
    return x, y.astype("int64")


def snapshot(model: keras.Model) -> dict[str, dict[str, np.ndarray]]:
    """Copies of every weight (trainable or not) of every leaf layer, by layer path."""
    return {
        path: {v.path: np.array(v.numpy(), copy=True) for v in layer.weights}
        for path, layer in leaves(model)
    }


def changed(before: dict, after: dict) -> dict[str, dict[str, bool]]:
    """For each layer path and variable: did it change (bitwise)?"""
    return {
        path: {name: not np.array_equal(value, after[path][name]) for name, value in vs.items()}
        for path, vs in before.items()
    }


#: Two dense blocks (the second with BatchNormalization) and a dense head: the small net of
#: the loop's tests.
TINY = {"kind": "dense", "blocks": [(3, False, False), (3, True, False)], "head_bn": False}


def tiny_net(seed: int | None = 0) -> keras.Model:
    """``build_net(TINY)``: layers b0_dense, b1_dense, b1_bn and the head."""
    return build_net(TINY, seed)
