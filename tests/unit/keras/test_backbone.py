"""Loading keras.applications backbones from local files, and cutting them (nested too)."""

from __future__ import annotations

import shutil

import h5py
import keras
import numpy as np
import pytest
from keras.src.legacy.saving import legacy_h5_format

from ftcore.errors import InvalidFileError, MissingFileError, UnknownNameError
from ftcore.keras.backbone import cut, imagenet_file_name, load_backbone

SHAPE = (32, 32, 3)


def mobilenet(weights, shape=SHAPE, alpha=0.25):
    return load_backbone("MobileNet", shape, weights, alpha=alpha)


def save_legacy_h5(model, path):
    """Write weights in the layout of keras.applications' downloaded ``*_no_top.h5`` files."""
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return path


@pytest.fixture(scope="module")
def backbone(pretrained):
    return mobilenet(pretrained.keras_weights)


def test_loads_the_fixture_exactly_like_keras_does(pretrained, backbone):
    reference = keras.applications.MobileNet(
        input_shape=SHAPE, alpha=0.25, include_top=False, weights=str(pretrained.keras_weights)
    )
    assert len(backbone.layers) == 86 and backbone.layers[39].name == "conv_dw_6_relu"
    for a, b in zip(backbone.get_weights(), reference.get_weights(), strict=True):
        assert np.array_equal(a, b)
    assert not np.array_equal(backbone.get_weights()[0], mobilenet(None).get_weights()[0])


def test_imagenet_without_cached_file_names_file_and_folder(tmp_path):
    with pytest.raises(MissingFileError) as info:
        load_backbone("MobileNet", SHAPE, "imagenet", alpha=0.25, cache_dir=tmp_path)
    msg = str(info.value)
    assert "'mobilenet_2_5_224_tf_no_top.h5'" in msg and "~/.keras/models/" in msg
    assert str(tmp_path) in msg and "does not download" in msg


def test_imagenet_uses_the_cached_file(tmp_path, pretrained):
    name = imagenet_file_name("MobileNet", SHAPE, alpha=0.25)
    shutil.copy(pretrained.keras_weights, tmp_path / name)
    model = load_backbone("MobileNet", SHAPE, "imagenet", alpha=0.25, cache_dir=tmp_path)
    assert np.array_equal(
        model.get_weights()[0], mobilenet(pretrained.keras_weights).get_weights()[0]
    )


def test_imagenet_file_names():
    assert imagenet_file_name("MobileNetV2", (160, 160, 3), alpha=0.35) == (
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_160_no_top.h5"
    )
    assert imagenet_file_name("EfficientNetB3", (224, 224, 3)) == "efficientnetb3_notop.h5"
    assert imagenet_file_name("ConvNeXtTiny", (224, 224, 3)) is None


def test_unknown_application_lists_closest():
    with pytest.raises(
        UnknownNameError, match="unknown keras application 'MobileNet2'.*MobileNetV2"
    ):
        load_backbone("MobileNet2", SHAPE, None)


def test_missing_weights_file(tmp_path):
    with pytest.raises(
        MissingFileError, match=r"no such file: .*nope\.h5 \(expected a weights file"
    ):
        mobilenet(tmp_path / "nope.h5")


def test_weights_of_another_architecture(tmp_path):
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="fc")])
    path = save_legacy_h5(other, tmp_path / "dense.h5")
    with pytest.raises(InvalidFileError) as info:
        mobilenet(path)
    msg = str(info.value)
    assert str(path) in msg and "holds weights for 1 layers" in msg
    assert "MobileNet(input_shape=(32, 32, 3), alpha=0.25) has 54 layers" in msg
    assert "another architecture" in msg


def test_weights_of_another_width(tmp_path):
    path = save_legacy_h5(mobilenet(None, alpha=0.5), tmp_path / "mobilenet_5_0.h5")
    with pytest.raises(
        InvalidFileError, match=r"layer 'conv1'.*\(3, 3, 3, 16\).*\(3, 3, 3, 8\).*alpha"
    ):
        mobilenet(path)


def test_weights_for_another_input_shape(pretrained):
    with pytest.raises(InvalidFileError) as info:
        mobilenet(pretrained.keras_weights, shape=(32, 32, 1))
    msg = str(info.value)
    assert "input_shape=(32, 32, 1)" in msg and "(3, 3, 3, 8)" in msg and "(3, 3, 1, 8)" in msg


@pytest.mark.filterwarnings("ignore:Skipping nested container")
def test_keras3_weights_file_of_another_model(tmp_path):
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    other.save_weights(tmp_path / "dense.weights.h5")
    with pytest.raises(InvalidFileError, match=r"dense\.weights\.h5 does not fit MobileNet"):
        mobilenet(tmp_path / "dense.weights.h5")


def test_not_a_weights_file(tmp_path):
    (tmp_path / "notes.h5").write_text("not hdf5")
    with pytest.raises(InvalidFileError, match=r"notes\.h5 does not fit"):
        mobilenet(tmp_path / "notes.h5")


def test_cut_by_name_and_index_agree(backbone):
    x = np.random.default_rng(0).uniform(-1, 1, (4, *SHAPE)).astype("float32")
    by_name, by_index = cut(backbone, "conv_dw_6_relu"), cut(backbone, 39)
    assert by_name.output.shape == (None, 2, 2, 64) and len(by_name.layers) == 40
    reference = x
    for layer in backbone.layers[1:40]:  # independent: run the layers one by one
        reference = layer(reference)
    np.testing.assert_allclose(by_name.predict(x, verbose=0), reference, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(by_name.predict(x, verbose=0), by_index.predict(x, verbose=0))


def test_cut_inside_a_nested_backbone_keeps_preprocessing(backbone):
    """The classic trap: outer input + inner layer output is "Graph disconnected" (Keras 3: "not
    connected to `inputs`"); cut() rewires the cut backbone onto the outer graph."""
    inp = keras.Input(SHAPE)
    scaled = keras.layers.Rescaling(0.5, name="scale")(inp)
    outer = keras.Model(inp, keras.layers.GlobalAveragePooling2D()(backbone(scaled)))
    with pytest.raises(ValueError, match="not connected"):
        keras.Model(outer.input, backbone.get_layer("conv_dw_6_relu").output)
    x = np.random.default_rng(1).uniform(-1, 1, (3, *SHAPE)).astype("float32")
    want = cut(backbone, "conv_dw_6_relu").predict(x * 0.5, verbose=0)
    for at in ("conv_dw_6_relu", f"{backbone.name}/conv_dw_6_relu"):
        got = cut(outer, at)
        assert "scale" in [layer.name for layer in got.layers]  # preprocessing kept
        np.testing.assert_allclose(got.predict(x, verbose=0), want, rtol=1e-6, atol=1e-6)
    seq = keras.Sequential([keras.Input(SHAPE), keras.layers.Rescaling(0.5), backbone])
    np.testing.assert_allclose(cut(seq, "conv_dw_6_relu").predict(x, verbose=0), want, atol=1e-6)


@pytest.mark.parametrize(
    ("at", "error", "message"),
    [
        (
            "conv_dw_6_rel",
            UnknownNameError,
            r"unknown layer 'conv_dw_6_rel'.*closest: 'conv_dw_6_relu'",
        ),
        ("conv_dw6", UnknownNameError, r"closest: .*'conv_dw_6'"),
        (200, UnknownNameError, r"unknown layer index '200'.*0\.\.85"),
    ],
)
def test_cut_at_unknown_layer(backbone, at, error, message):
    with pytest.raises(error, match=message):
        cut(backbone, at)
