"""Predictor: both paths agree on real photos; top-k, shape checks and model loading errors."""

from __future__ import annotations

import numpy as np
import pytest

from ftcore.errors import MismatchError, MissingFileError, UnknownNameError
from ftcore.export.pb import export_checkpoint, export_keras
from ftcore.predict.images import load_images
from ftcore.predict.predictor import (
    OptionError,
    Predictor,
    from_checkpoint,
    from_keras,
    from_pb,
    load,
    load_options,
)
from tests.helpers.agreement import assert_agree
from tests.helpers.exports import small_keras_model
from tests.helpers.graph_nets import PREDICTIONS


def _identity_predictor(labels=None) -> Predictor:
    return Predictor("frozen", lambda x: x.reshape(len(x), -1), (2, 2, 1), labels)


def test_top_k_orders_scores_and_attaches_labels():
    p = _identity_predictor(labels=["a", "b", "c", "d"])
    scores = np.float32([[0.1, 0.7, 0.05, 0.15], [0.4, 0.1, 0.3, 0.2]])
    top = p.top_k(scores, k=2)
    assert [[(q.label, q.index) for q in row] for row in top] == [
        [("b", 1), ("d", 3)],
        [("a", 0), ("c", 2)],
    ]
    assert top[0][0].score == pytest.approx(0.7)
    assert len(p.top_k(scores, k=10)[0]) == 4
    with pytest.raises(MismatchError, match="3 labels for a model with 4 outputs"):
        _identity_predictor(labels=["a", "b", "c"]).top_k(scores)


def test_predict_batches_and_checks_the_input_shape():
    p = _identity_predictor()
    x = np.arange(5 * 4, dtype=np.float32).reshape(5, 2, 2, 1)
    np.testing.assert_array_equal(p.predict(x, batch_size=2), x.reshape(5, 4))
    with pytest.raises(
        MismatchError, match=r"shape \(5, 2, 2, 3\); the model expects \[N, 2, 2, 1\]"
    ):
        p.predict(np.zeros([5, 2, 2, 3]))


@pytest.mark.slow
def test_frozen_and_restored_checkpoint_agree_on_photos(slim_ckpt, photos, tmp_path):
    export_checkpoint(slim_ckpt, tmp_path / "m.pb", outputs=[PREDICTIONS], labels=list("abcde"))
    paths = list(photos.values())
    with (
        from_checkpoint(slim_ckpt, PREDICTIONS, labels=list("abcde")) as r,
        from_pb(tmp_path / "m.pb") as f,
    ):
        assert (r.kind, f.kind) == ("restored", "frozen")
        want, got = r.predict_images(paths), f.predict_images(paths)
        assert want.shape == (4, 5)
        assert_agree(lambda _: want, {"frozen": lambda _: got}, [paths], "deep_export")
        assert [[q.index for q in row] for row in f.top_k(got, 3)] == [
            [q.index for q in row] for row in r.top_k(want, 3)
        ]


def test_frozen_and_restored_keras_agree_on_photos(photos, tmp_path):
    model = small_keras_model()
    export_keras(model, tmp_path / "k.pb")
    model.save(tmp_path / "k.keras")
    paths = [photos["coffee_cup"], photos["rocket_launch"]]
    with load(tmp_path / "k.keras") as r, load(tmp_path / "k.pb") as f:
        assert_agree(r.predict_images, {"frozen": f.predict_images}, [paths], "small_export")
    x = load_images(paths, 16)  # the independent reference: the Keras model called eagerly
    compiled = from_keras(model).predict_images
    assert_agree(lambda _: model(x).numpy(), {"from_keras": compiled}, [paths], "call_path")


def test_load_errors_name_the_problem(slim_ckpt, tmp_path):
    with pytest.raises(MissingFileError, match=r"no such file or directory: .*none\.h5"):
        load(tmp_path / "none.h5")
    (tmp_path / "w.h5").write_bytes(b"\x89HDF")
    with pytest.raises(MismatchError, match="a weights file holds no model"):
        load(tmp_path / "w.h5")
    with pytest.raises(MismatchError, match="name the output tensor"):
        load(slim_ckpt)
    with pytest.raises(UnknownNameError, match="closest: 'MobilenetV2/Predictions/Reshape_1:0'"):
        from_checkpoint(slim_ckpt, "MobilenetV2/Predictions/Reshape_9")
    with pytest.raises(UnknownNameError, match="unknown device 'tpu'"):
        from_checkpoint(slim_ckpt, PREDICTIONS, device="tpu")


def test_load_refuses_options_the_model_kind_cannot_use(slim_ckpt, slim_pb, tmp_path):
    """Before, load() dropped them silently (``output`` for a .keras model, ``interpreter`` for
    a checkpoint); now each kind names the option and what it accepts."""
    small_keras_model().save(tmp_path / "k.keras")
    keras_path = tmp_path / "k.keras"
    cases = [
        (keras_path, {"output": PREDICTIONS}, "option 'output' does not apply to a .keras model"),
        (keras_path, {"optimize_graph": True}, "'optimize_graph' does not apply to a .keras"),
        (keras_path, {"interpreter": "litert"}, "'interpreter' does not apply to a .keras"),
        (slim_pb, {"interpreter": "litert"}, "'interpreter' does not apply to a frozen .pb"),
        (slim_pb, {"num_threads": 2}, "'num_threads' does not apply to a frozen .pb model"),
        (slim_ckpt, {"output": PREDICTIONS, "optimize_graph": True}, "to a checkpoint model"),
        (slim_ckpt, {"output": PREDICTIONS, "num_threads": 1}, "'num_threads' does not apply"),
    ]
    for path, options, message in cases:
        with pytest.raises(OptionError, match=message) as caught:
            load(path, **options)
        assert str(path) in str(caught.value)
        assert "did you mean" not in str(caught.value)  # a real option of another kind
        assert isinstance(caught.value, TypeError)  # what Python raised for a wrong keyword
    with pytest.raises(OptionError, match=r"'labl' .* did you mean 'labels'\? its options: "):
        load(slim_pb, labl=["a"])
    assert load_options("pb") == (
        "input_name",
        "output",
        "device",
        "optimize_graph",
        "trust",
        "labels",
        "preprocessing",
    )
    assert "output" not in load_options("keras") and "output" in load_options("checkpoint")
    # the options that apply still do
    with load(keras_path, labels=list("abcd"), device="cpu") as k:
        assert k.labels == list("abcd")
    with load(slim_pb, PREDICTIONS, optimize_graph=True, labels=list("abcde")) as f:
        assert f.labels == list("abcde")
    with load(slim_ckpt, output=PREDICTIONS, input_name="input") as r:
        assert r.kind == "restored"


def test_an_input_without_static_shape_is_checked_not_crashed(slim_pb):
    """A .pb whose input lost its shape (found by fuzzing): a batch of another rank would abort
    the process in oneDNN's convolution; the wrong depth raised a raw TF error."""
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef.FromString(open(slim_pb, "rb").read())
    next(n for n in graph_def.node if n.name == "input").attr.pop("shape")
    with from_pb(graph_def, output=PREDICTIONS) as p:
        assert p.input_shape == (None, None, None)
        with pytest.raises(MismatchError, match=r"shape \(1,\); the model expects \[N, None"):
            p.predict(np.zeros([1], np.float32))
        with pytest.raises(MismatchError, match="input depth must be evenly divisible"):
            p.predict(np.zeros([1, 32, 32, 1], np.float32))
        with pytest.raises(MismatchError, match="is empty"):
            p.predict(np.zeros([0, 32, 32, 3], np.float32))
        assert p.predict(np.zeros([2, 32, 32, 3], np.float32)).shape == (2, 5)
    g = tf.Graph()
    with g.as_default():
        tf.identity(tf.compat.v1.placeholder(tf.float32, [None, 4], name="x"), name="y")
    with pytest.raises(MismatchError, match=r"input x:0 has shape \(None, 4\); .*\[N, H, W, C\]"):
        from_pb(g.as_graph_def(), input_name="x", output="y")
