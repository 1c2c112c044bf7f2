"""Shared helpers for the graph-path tests: small real slim checkpoints, frozen graphs, raw
checkpoints and random graphs whose ancestor variables are known by construction."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from ftcore.graph.nets.slim_mobilenet_v2 import mobilenet_v2

v1 = tf.compat.v1

DM = 0.35
NUM_CLASSES = 5
SIZE = 32
TARGET = "MobilenetV2/expanded_conv_14/output"
PREDICTIONS = "MobilenetV2/Predictions/Reshape_1"


def build_slim(is_training: bool = False, num_classes: int = NUM_CLASSES) -> None:
    """Placeholder ``input`` and the slim MobileNetV2 (depth 0.35) in the default graph."""
    x = v1.placeholder(tf.float32, [None, SIZE, SIZE, 3], name="input")
    mobilenet_v2(x, num_classes, depth_multiplier=DM, is_training=is_training)


@functools.cache
def slim_checkpoint(root: Path, seed: int = 0) -> str:
    """A real Saver checkpoint dir of the eval graph with random, distinctive values
    (BN moving statistics far from their 0/1 initial values). Returns the directory."""
    out = Path(root) / f"slim_{seed}"
    g = tf.Graph()
    with g.as_default():
        v1.set_random_seed(seed)
        build_slim()
        step = v1.train.get_or_create_global_step()
        saver = v1.train.Saver()
        with v1.Session(graph=g) as sess:
            sess.run(v1.global_variables_initializer())
            rng = np.random.default_rng(seed)
            for v in g.get_collection(v1.GraphKeys.MOVING_AVERAGE_VARIABLES):
                shape = v.shape.as_list()
                low = 0.5 if "variance" in v.name else -0.5
                v.load(rng.uniform(low, low + 1.0, shape).astype(np.float32), sess)
            step.load(100 + seed, sess)
            saver.save(sess, str(out / "model.ckpt"), global_step=step)
    return str(out)


@functools.cache
def frozen_slim(root: Path, seed: int = 0, name: str = "frozen.pb") -> str:
    """The checkpoint of :func:`slim_checkpoint` frozen to a ``.pb`` (output: predictions)."""
    ckpt = tf.train.latest_checkpoint(slim_checkpoint(root, seed))
    g = tf.Graph()
    with g.as_default(), v1.Session(graph=g) as sess:
        build_slim()
        v1.train.Saver().restore(sess, ckpt)
        gd = v1.graph_util.convert_variables_to_constants(sess, g.as_graph_def(), [PREDICTIONS])
    path = Path(root) / name
    path.write_bytes(gd.SerializeToString())
    return str(path)


def save_raw_checkpoint(prefix: str | Path, tensors: dict[str, np.ndarray]) -> str:
    """Write a V2 checkpoint bundle holding exactly ``tensors`` (no graph, no state file)."""
    names = sorted(tensors)
    tf.raw_ops.SaveV2(
        prefix=str(prefix),
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tensors[n] for n in names],
    )
    return str(prefix)


def images(n: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, SIZE, SIZE, 3)).astype(np.float32)


# -- random graphs with known ancestor variables ---------------------------------------------

KINDS = ("conv", "conv_ref", "shared", "bias", "bn_eval", "bn_train", "add", "side")
SCOPES = ("s0", "s1", "s1/inner", "s2")
C = 2


@dataclass
class RandomGraph:
    """A random DAG over 4-D tensors; ``uses[i]`` are the variables node ``i`` reads itself."""

    graph: tf.Graph
    tensors: list = field(default_factory=list)
    parents: list = field(default_factory=list)
    uses: list = field(default_factory=list)

    def reference_ancestors(self, target: int) -> set[str]:
        """Variables of ``target`` and every node it descends from, by construction."""
        seen, stack = set(), [target]
        while stack:
            i = stack.pop()
            if i not in seen:
                seen.add(i)
                stack.extend(self.parents[i])
        return set().union(*(self.uses[i] for i in seen))


def _bn(x, name: str, training: bool) -> tuple[tf.Tensor, set[str]]:
    with v1.variable_scope(name):
        gamma = v1.get_variable("gamma", [C], initializer=v1.ones_initializer())
        beta = v1.get_variable("beta", [C], initializer=v1.zeros_initializer())
        mean = v1.get_variable("moving_mean", [C], trainable=False)
        var = v1.get_variable("moving_variance", [C], trainable=False)
        names = {
            f"{v1.get_variable_scope().name}/{n}"
            for n in ("gamma", "beta", "moving_mean", "moving_variance")
        }
        if not training:
            y, _, _ = v1.nn.fused_batch_norm(x, gamma, beta, mean, var, is_training=False)
            return y, names
        y, bm, bv = v1.nn.fused_batch_norm(x, gamma, beta, is_training=True)
        v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, mean.assign_sub((mean - bm) * 0.1))
        v1.add_to_collection(v1.GraphKeys.UPDATE_OPS, var.assign_sub((var - bv) * 0.1))
        return y, names


def build_random_graph(spec: list[tuple[str, int, int, int]]) -> RandomGraph:
    """Build nodes from ``spec`` = [(kind, parent_a, parent_b, scope)]; parents index earlier
    nodes (node 0 is the input placeholder). Variables are created in a shuffled order first
    when the kind allows, so creation order never follows data flow."""
    rg = RandomGraph(tf.Graph())
    with rg.graph.as_default():
        x = v1.placeholder(tf.float32, [None, 4, 4, C], name="input")
        rg.tensors.append(x)
        rg.parents.append([])
        rg.uses.append(set())
        # pre-create conv weights in reverse order of use
        weights = {}
        for i in reversed(range(len(spec))):
            kind, _, _, scope = spec[i]
            if kind in ("conv", "conv_ref"):
                with v1.variable_scope(f"{SCOPES[scope]}/n{i + 1}"):
                    weights[i] = v1.get_variable("w", [1, 1, C, C], use_resource=kind == "conv")
        for i, (kind, pa, pb, scope) in enumerate(spec):
            node = i + 1
            a, b = pa % node, pb % node
            p = rg.tensors[a]
            with v1.variable_scope(f"{SCOPES[scope]}/n{node}"):
                uses: set[str] = set()
                parents = [a]
                if kind in ("conv", "conv_ref"):
                    y = tf.nn.conv2d(p, weights[i], [1, 1, 1, 1], "SAME")
                    uses = {weights[i].op.name}
                elif kind == "shared":  # reuse the weights of an earlier conv, if any
                    earlier = [j for j in weights if j < i]
                    w = weights[earlier[b % len(earlier)]] if earlier else None
                    y = tf.nn.conv2d(p, w, [1, 1, 1, 1], "SAME") if w is not None else p * 2.0
                    uses = {w.op.name} if w is not None else set()
                elif kind == "bias":
                    bias = v1.get_variable("b", [C])
                    y, uses = p + bias, {bias.op.name}
                elif kind in ("bn_eval", "bn_train"):
                    y, uses = _bn(p, "BatchNorm", kind == "bn_train")
                elif kind == "add":
                    y, parents = tf.add(p, rg.tensors[b], name="add"), [a, b]
                else:  # "side": a variable read next to the path, never on it
                    side = v1.get_variable("side", [C])
                    tf.reduce_sum(p * side, name="side_sum")
                    y = tf.identity(p, name="pass")
            rg.tensors.append(tf.identity(y, name=f"out{node}"))
            rg.parents.append(parents)
            rg.uses.append(uses)
    return rg
