"""The private Keras attributes ftcore relies on (ftcore/keras/internals.py) still mean what
ftcore assumes: if a Keras release changes one, this file fails first, with the name."""

from __future__ import annotations

import keras
import numpy as np

from ftcore.keras.internals import (
    clear_captured_strategy,
    inbound_nodes,
    optimizer_variable_index,
    tensor_source,
    trainable_capable_variables,
)


def test_inbound_nodes_list_each_call_site_with_its_input_tensors():
    dense = keras.layers.Dense(2, name="d")
    a, b = keras.Input((3,), name="a"), keras.Input((3,), name="b")
    dense(a), dense(b)
    nodes = inbound_nodes(dense)
    assert [[t.name for t in node.input_tensors] for node in nodes] == [["a"], ["b"]]
    assert inbound_nodes(keras.layers.Dense(2)) == []


def test_trainable_capable_variables_survive_freezing_and_exclude_statistics():
    bn = keras.layers.BatchNormalization()
    bn.build((None, 3))
    bn.trainable = False
    assert bn.trainable_weights == []  # why the public API is not enough
    assert sorted(v.name for v in trainable_capable_variables(bn)) == ["beta", "gamma"]


def test_optimizer_variable_index_is_the_build_order():
    variables = [keras.Variable(np.zeros(n, "float32"), name=f"v{n}") for n in (1, 2, 3)]
    sgd = keras.optimizers.SGD()
    sgd.build(variables)
    assert [optimizer_variable_index(sgd, v) for v in variables] == [0, 1, 2]


def test_a_model_captures_its_strategy_and_clearing_it_leaves_a_working_model():
    import tensorflow as tf

    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with strategy.scope():
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    assert model._distribute_strategy is strategy  # what clear_captured_strategy resets
    clear_captured_strategy(model)
    assert model._distribute_strategy is None
    assert model(np.ones((1, 2), "float32")).shape == (1, 1)


def test_tensor_source_is_the_layer_call_that_made_the_tensor():
    dense = keras.layers.Dense(2, name="d")
    a, b = keras.Input((3,), name="a"), keras.Input((3,), name="b")
    dense(a)
    out = dense(b)
    layer, node = tensor_source(out)
    assert layer is dense and [t.name for t in node.input_tensors] == ["b"]
    source, _ = tensor_source(a)
    assert type(source).__name__ == "InputLayer"
