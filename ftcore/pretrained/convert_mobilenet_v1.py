"""Converters from nudity's frozen slim MobilenetV1 1.0/224 graph to every format ftcore uses.

The source (``retrained_graph.pb``, a TF-Hub ``retrain.py`` output) is Google's slim ImageNet
MobilenetV1 frozen with its 1001-class logits intact plus a retrained 2-class head, input
``input`` ``[1, 224, 224, 3]`` in (x-128)/128, BatchNorm eps 0.001. Its 137 weight arrays are
Const nodes under the slim variable names (``MobilenetV1/Conv2d_0/weights``...). Each converter
runs the source graph on a fixed probe batch and returns the max abs diff of its own output:

- :func:`frozen_classifier`: the ImageNet classifier alone, batch dimension freed, with slim's
  ``MobilenetV1/Predictions/{Softmax,Reshape_1}`` added (restore method 3);
- :func:`keras_weights`: ``keras.applications.MobileNet(alpha=1.0)`` weights with and without
  top (Conv2d_0 -> conv1/conv1_bn, Conv2d_i_depthwise -> conv_dw_i(_bn), Conv2d_i_pointwise ->
  conv_pw_i(_bn), Logits[..., 1:] -> conv_preds: slim's background class 0 dropped);
- :func:`slim_checkpoint`: a Saver checkpoint with ``.meta`` of
  :func:`ftcore.graph.nets.slim_mobilenet_v1.mobilenet_v1` (restore methods 1 and 2).

``keras_weights(Path("retrained_graph.pb"), Path("out"))`` returns the checks it measured, e.g.
``{"keras_logits": 2.0e-05, "keras_no_top_features": 7.6e-05}``; the store records them in the
entry's ``provenance.json``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tensorflow as tf

from ftcore.errors import InvalidFileError

v1 = tf.compat.v1

INPUT = "input"
LOGITS = "MobilenetV1/Predictions/Reshape"  # [N, 1001] in the source graph
FEATURES = "MobilenetV1/MobilenetV1/Conv2d_13_pointwise/Relu6"
PREDICTIONS = "MobilenetV1/Predictions/Reshape_1"
PB_NAME = "mobilenet_v1_1.0_224_frozen.pb"
SIZE = 224
NUM_ARRAYS = 137


def conversion_probe(n: int = 3, size: int = SIZE, seed: int = 0) -> np.ndarray:
    """The conversion check's inputs: ``n`` deterministic images in [-1, 1], smooth colour
    gradients then uniform noise (not :func:`ftcore.export.kit.probe_batch`, the export
    self-check's random batch)."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    smooth = np.stack(np.broadcast_arrays(ramp[:, None], ramp[None, :], ramp[:, None] * ramp), -1)
    noise = rng.uniform(-1.0, 1.0, (max(n - 1, 0), size, size, 3)).astype(np.float32)
    return np.concatenate([smooth[None], noise])[:n]


class SourceGraph:
    """The parsed (safety-checked) source graph, its weight arrays and reference outputs."""

    def __init__(self, pb: Path):
        from tensorflow.python.framework import tensor_util

        from ftcore.graph.safety import load_graph_def

        self.graph_def = load_graph_def(pb)
        self.arrays = {
            n.name: tensor_util.MakeNdarray(n.attr["value"].tensor)
            for n in self.graph_def.node
            if n.op == "Const" and re.fullmatch(r"MobilenetV1/(Conv2d_\d+|Logits)\w*/.+", n.name)
        }
        if len(self.arrays) != NUM_ARRAYS:
            raise InvalidFileError(
                f"{pb}: expected the {NUM_ARRAYS} weight arrays of slim MobilenetV1, found "
                f"{len(self.arrays)}"
            )

    def run(self, fetches: list[str], x: np.ndarray) -> list[np.ndarray]:
        """Run the source graph image by image (its input has batch size 1)."""
        graph = tf.Graph()
        with graph.as_default():
            tf.graph_util.import_graph_def(self.graph_def, name="")
        with v1.Session(graph=graph) as sess:
            rows = [
                sess.run([f + ":0" for f in fetches], {INPUT + ":0": x[i : i + 1]})
                for i in range(len(x))
            ]
        return [np.concatenate(col) for col in zip(*rows, strict=True)]


def frozen_classifier(
    member: Path, out_dir: Path, labels: list[str] | None = None
) -> dict[str, float]:
    """Write ``mobilenet_v1_1.0_224_frozen.pb`` (+ its ftcore sidecar): the ImageNet classifier
    pruned to ``MobilenetV1/Predictions/Reshape_1``, input ``input`` ``[None, 224, 224, 3]``.

    The sidecar names the scaling these weights were trained with (``"mobilenet"``: x/127.5-1,
    slim's inception_preprocessing; see the catalog) and the 1001 ``labels`` (0 = background).
    """
    from ftcore.pretrained.catalog import ENTRIES

    if labels is not None and len(labels) != 1001:
        raise ValueError(f"{len(labels)} class names for the 1001 outputs of {member.name}")
    from ftcore.atomic import write_bytes, write_text
    from ftcore.graph.restore import load_pb
    from ftcore.sidecar import Sidecar, TensorInfo, sidecar_path

    src = SourceGraph(member)
    graph_def = v1.graph_util.extract_sub_graph(src.graph_def, [LOGITS])
    for node in graph_def.node:
        if node.name == INPUT:
            node.attr["shape"].shape.dim[0].size = -1
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
        squeezed = graph.get_tensor_by_name("MobilenetV1/Logits/SpatialSqueeze:0")
        with tf.name_scope("MobilenetV1/Predictions/"):  # slim.softmax's ops
            probs = tf.nn.softmax(graph.get_tensor_by_name(LOGITS + ":0"), name="Softmax")
            tf.reshape(probs, tf.shape(squeezed), name="Reshape_1")
    pruned = v1.graph_util.extract_sub_graph(graph.as_graph_def(), [PREDICTIONS])
    pb = out_dir / PB_NAME
    write_bytes(pb, pruned.SerializeToString())
    sidecar = Sidecar(
        [TensorInfo(INPUT + ":0", [None, SIZE, SIZE, 3], "float32")],
        [TensorInfo(PREDICTIONS + ":0", [None, 1001], "float32")],
        preprocessing=ENTRIES["mobilenet-v1-pb"].preprocessing,
        labels=labels,
        source=f"{member.name}: slim MobilenetV1 1.0/224 ImageNet (1001 classes, 0 = background)",
        optimized=False,
    )
    x = conversion_probe()
    (logits,) = src.run([LOGITS], x)
    ref = np.exp(logits - logits.max(1, keepdims=True))
    ref /= ref.sum(1, keepdims=True)
    with load_pb(pb) as net:
        got = net.run(PREDICTIONS, {INPUT: x})
    diff = float(np.abs(got - ref).max())
    sidecar.check = {"max_abs_diff_vs_source": diff}
    write_text(sidecar_path(pb), sidecar.to_json())
    return {"pb_probabilities": diff}


def _slim_scope(layer: str) -> str:
    """Keras layer name (``conv1``, ``conv_dw_3``, ``conv_pw_3_bn``...) -> slim scope."""
    core = layer.removesuffix("_bn")
    if core == "conv1":
        return "MobilenetV1/Conv2d_0"
    kind = "depthwise" if core.startswith("conv_dw_") else "pointwise"
    return f"MobilenetV1/Conv2d_{core[8:]}_{kind}"


def keras_arrays(layers, arrays: dict[str, np.ndarray]) -> Iterator[tuple[object, list]]:
    """``(layer, weights)`` for every Keras MobileNet layer that has weights."""
    for layer in layers:
        name = layer.name
        if not layer.weights:
            continue
        if name == "conv_preds":
            w = arrays["MobilenetV1/Logits/Conv2d_1c_1x1/weights"]
            b = arrays["MobilenetV1/Logits/Conv2d_1c_1x1/biases"]
            yield layer, [w[..., 1:], b[1:]]  # drop slim's background class 0
        elif name.endswith("_bn"):
            scope = _slim_scope(name) + "/BatchNorm/"
            keys = ("gamma", "beta", "moving_mean", "moving_variance")
            yield layer, [arrays[scope + k] for k in keys]
        elif name.startswith("conv_dw_"):
            yield layer, [arrays[_slim_scope(name) + "/depthwise_weights"]]
        elif name == "conv1" or name.startswith("conv_pw_"):
            yield layer, [arrays[_slim_scope(name) + "/weights"]]
        else:
            raise InvalidFileError(f"Keras MobileNet layer {name!r} has no slim counterpart")


def keras_weights(member: Path, out_dir: Path) -> dict[str, float]:
    """Write ``mobilenet_1_0_224_tf.h5`` and ``mobilenet_1_0_224_tf_no_top.h5`` in the legacy
    HDF5 layout of the files ``keras.applications`` downloads."""
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    src = SourceGraph(member)
    x = conversion_probe()
    logits, features = src.run([LOGITS, FEATURES], x)
    checks = {}
    for top, name in ((True, "mobilenet_1_0_224_tf.h5"), (False, "mobilenet_1_0_224_tf_no_top.h5")):
        model = keras.applications.MobileNet(
            input_shape=(SIZE, SIZE, 3), alpha=1.0, include_top=top, weights=None
        )
        used = 0
        for layer, weights in keras_arrays(model.layers, src.arrays):
            layer.set_weights(weights)
            used += len(weights)
        with h5py.File(out_dir / name, "w") as f:
            legacy_h5_format.save_weights_to_hdf5_group(f, model)
        reloaded = keras.applications.MobileNet(
            input_shape=(SIZE, SIZE, 3), alpha=1.0, include_top=top, weights=str(out_dir / name)
        )
        if top:
            probe = keras.Model(reloaded.input, reloaded.get_layer("conv_preds").output)
            got = np.asarray(probe(x, training=False)).reshape(len(x), -1)
            checks["keras_logits"] = float(np.abs(got - logits[:, 1:]).max())
        else:
            got = np.asarray(reloaded(x, training=False))
            checks["keras_no_top_features"] = float(np.abs(got - features).max())
        expected = NUM_ARRAYS if top else NUM_ARRAYS - 2
        if used != expected:
            raise InvalidFileError(f"{name}: set {used} arrays, expected {expected}")
    return checks


def write_checkpoint_index(out_dir: Path, prefix: str) -> None:
    """The ``checkpoint`` file, with a path relative to its folder (so the folder can move)."""
    (out_dir / "checkpoint").write_text(
        f'model_checkpoint_path: "{prefix}"\nall_model_checkpoint_paths: "{prefix}"\n'
    )


def slim_checkpoint(member: Path, out_dir: Path) -> dict[str, float]:
    """Write a Saver checkpoint ``model.ckpt`` (with ``.meta`` and the ``checkpoint`` index) of
    the slim MobilenetV1 1.0 classifier, placeholder ``input`` ``[None, 224, 224, 3]``."""
    from ftcore.graph.nets.slim_mobilenet_v1 import mobilenet_v1
    from ftcore.graph.restore import restore_meta_graph

    src = SourceGraph(member)
    x = conversion_probe()
    (logits,) = src.run([LOGITS], x)
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(0)  # initializers are random ops: op determinism wants a seed
        inputs = v1.placeholder(tf.float32, [None, SIZE, SIZE, 3], name=INPUT)
        mobilenet_v1(inputs, num_classes=1001)
        variables = v1.global_variables()
        saver = v1.train.Saver(variables)
        with v1.Session(graph=graph) as sess:
            for var in variables:
                sess.run(var.initializer, {var.initial_value: src.arrays[var.op.name]})
            saver.save(sess, str(out_dir / "model.ckpt"), write_state=False)
    write_checkpoint_index(out_dir, "model.ckpt")
    if len(variables) != NUM_ARRAYS:
        raise InvalidFileError(f"slim MobilenetV1 has {len(variables)} variables, expected 137")
    with restore_meta_graph(out_dir) as net:
        got = net.run("MobilenetV1/Logits/SpatialSqueeze", {INPUT: x})
    return {"slim_logits": float(np.abs(got - logits).max())}
