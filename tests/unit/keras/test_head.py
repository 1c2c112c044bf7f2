"""Heads: built-ins, lists of layers, callables; names, shapes and errors."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from ftcore.errors import UnknownNameError
from ftcore.keras.head import attach_head, head_layers, head_start


def small_base():
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 3), name="img")
    h = keras.layers.Conv2D(6, 3, padding="same", name="c1")(inp)
    return keras.Model(inp, keras.layers.ReLU(name="r1")(h), name="base")


@pytest.mark.parametrize(
    ("head", "kwargs", "names"),
    [
        ("gap", {"dropout": 0.3}, ["head_pool", "head_dropout", "head_logits", "head_softmax"]),
        (
            "conv",
            {"filters": 5},
            [
                "head_conv",
                "head_relu",
                "head_pool",
                "head_dropout",
                "head_logits",
                "head_reshape",
                "head_softmax",
            ],
        ),
    ],
)
def test_builtin_heads(head, kwargs, names):
    base = small_base()
    model = attach_head(base, head, num_classes=4, **kwargs)
    assert [layer.name for layer in head_layers(model)] == names
    assert head_start(model) == len(base.layers)
    assert model.output.shape == (None, 4)
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype("float32")
    probs = model.predict(x, verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(
        base.predict(x, verbose=0),
        keras.Model(model.inputs, model.get_layer("r1").output).predict(x, verbose=0),
    )


def test_conv_head_is_the_seeds_top():
    model = attach_head(small_base(), "conv", num_classes=3, filters=5, dropout=0.5)
    conv, logits = model.get_layer("head_conv"), model.get_layer("head_logits")
    assert conv.kernel.shape == (3, 3, 6, 5) and logits.kernel.shape == (1, 1, 5, 3)
    assert model.get_layer("head_pool").output.shape == (None, 1, 1, 5)
    assert model.get_layer("head_dropout").rate == 0.5


def test_list_head_layers_get_the_prefix():
    model = attach_head(
        small_base(), [keras.layers.Flatten(name="flat"), keras.layers.Dense(2, name="head_out")]
    )
    assert [layer.name for layer in head_layers(model)] == ["head_flat", "head_out"]


def test_callable_head_is_one_named_layer():
    def tiny_top(t):
        return keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalMaxPooling2D()(t))

    model = attach_head(small_base(), tiny_top)
    (head,) = head_layers(model)
    assert head.name == "head_tiny_top" and isinstance(head, keras.Model)
    assert model.output.shape == (None, 2)


def test_saved_model_keeps_head_names(tmp_path):
    model = attach_head(small_base(), "gap", num_classes=3)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert [layer.name for layer in head_layers(loaded)] == [
        layer.name for layer in head_layers(model)
    ]


def test_head_errors():
    with pytest.raises(UnknownNameError, match="unknown built-in head 'gapp'; closest: 'gap'"):
        attach_head(small_base(), "gapp", num_classes=2)
    with pytest.raises(TypeError, match="needs num_classes"):
        attach_head(small_base(), "gap")
    used = keras.layers.Dense(2, name="used")
    used(keras.Input((3,)))
    with pytest.raises(ValueError, match="'used' is already in use"):
        attach_head(small_base(), [keras.layers.Flatten(), used])
