"""The fixture builder's outputs load through plain Keras / plain tf.compat.v1 code (not ftcore),
and really are pretrained: far above chance on held-out source-task digits."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from ftcore_fixtures.build import content_key
from ftcore_fixtures.digits import source_task

pytestmark = pytest.mark.integration
v1 = tf.compat.v1
CHANCE = 1 / 5


@pytest.fixture(scope="module")
def src(pretrained):
    return source_task(pretrained.image_size)


def nearest_centroid_accuracy(features_train, y_train, features_test, y_test):
    """Accuracy of a nearest-class-mean probe: an independent measure of feature quality."""
    centroids = np.stack([features_train[y_train == c].mean(0) for c in np.unique(y_train)])
    d = ((features_test[:, None, :] - centroids[None]) ** 2).sum(-1)
    return float(np.mean(d.argmin(1) == y_test))


def test_manifest_records_pretrained_accuracy(pretrained):
    manifest = json.loads((pretrained.root / "manifest.json").read_text())
    assert manifest["content_key"] == content_key() == pretrained.root.name
    for acc in pretrained.accuracy.values():
        assert acc > 0.85 > 4 * CHANCE


def test_keras_weights_load_like_a_downloaded_no_top_file(pretrained, src):
    assert pretrained.keras_weights.name == "mobilenet_2_5_32_tf_no_top.h5"

    def features(weights):
        keras.utils.set_random_seed(0)
        base = keras.applications.MobileNet(
            input_shape=(32, 32, 3), alpha=0.25, include_top=False, weights=weights, pooling="avg"
        )
        return base.predict(src.x_train, verbose=0), base.predict(src.x_test, verbose=0)

    pre_train, pre_test = features(str(pretrained.keras_weights))
    rnd_train, rnd_test = features(None)
    pretrained_acc = nearest_centroid_accuracy(pre_train, src.y_train, pre_test, src.y_test)
    random_acc = nearest_centroid_accuracy(rnd_train, src.y_train, rnd_test, src.y_test)
    print(f"nearest-centroid probe: pretrained {pretrained_acc:.3f}, random init {random_acc:.3f}")
    assert pretrained_acc > 0.85
    assert pretrained_acc > random_acc + 0.1


def _restore_slim(ckpt_dir):
    """The seed recipe's method 1 in plain TF: import the meta graph, restore the latest checkpoint."""
    g = tf.Graph()
    sess = v1.Session(graph=g)
    with g.as_default():
        path = tf.train.latest_checkpoint(str(ckpt_dir))
        saver = v1.train.import_meta_graph(path + ".meta")
        saver.restore(sess, path)
    return g, sess


def test_slim_checkpoint_restores_and_is_pretrained(pretrained, src):
    names = dict(tf.train.list_variables(str(pretrained.slim_ckpt_dir)))
    assert names["MobilenetV2/Conv/weights"] == [3, 3, 3, 16]
    assert names["MobilenetV2/expanded_conv_14/depthwise/depthwise_weights"] == [3, 3, 336, 1]
    assert names["MobilenetV2/Logits/Conv2d_1c_1x1/biases"] == [5]
    assert "global_step" in names
    g, sess = _restore_slim(pretrained.slim_ckpt_dir)
    with sess:
        probs = sess.run("MobilenetV2/Predictions/Reshape_1:0", {"input:0": src.x_test})
    acc = float(np.mean(probs.argmax(1) == src.y_test))
    assert acc == pytest.approx(pretrained.accuracy["slim"], abs=1e-6)
    assert acc > 0.85


def test_frozen_pb_matches_the_checkpoint(pretrained, src):
    graph_def = v1.GraphDef()
    graph_def.ParseFromString(pretrained.frozen_pb.read_bytes())
    assert not any(n.op in ("VarHandleOp", "VariableV2") for n in graph_def.node)
    frozen = tf.Graph()
    with frozen.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    with v1.Session(graph=frozen) as sess:
        got = sess.run("MobilenetV2/Predictions/Reshape_1:0", {"input:0": src.x_test[:64]})
    g, sess = _restore_slim(pretrained.slim_ckpt_dir)
    with sess:
        want = sess.run("MobilenetV2/Predictions/Reshape_1:0", {"input:0": src.x_test[:64]})
    np.testing.assert_allclose(got, want, atol=1e-5)
