"""The Pillow image loader against Keras' own ``load_img`` and numpy references, on real photos."""

from __future__ import annotations

import io

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from ftcore.errors import FtcoreError, InvalidFileError, MissingFileError
from ftcore.predict.images import iter_batches, load_image, load_images
from ftcore.preprocessing import PREPROCESSING

REFERENCE_SCALES = {  # independent restatement of each convention: (scale, offset)
    "mobilenet": (1 / 127.5, -1.0),
    "seed": (1 / 128.0, -1.0),
    "unit": (1 / 255.0, 0.0),
    "raw": (1.0, 0.0),
}


def keras_reference(path, hw, preprocessing):
    img = keras.utils.load_img(path, target_size=hw, interpolation="bilinear", color_mode="rgb")
    scale, offset = REFERENCE_SCALES[preprocessing]
    return keras.utils.img_to_array(img) * scale + offset


@pytest.mark.parametrize("preprocessing", sorted(PREPROCESSING))
@pytest.mark.parametrize("name", ["chelsea_cat", "coffee_cup", "rocket_launch", "cameraman_gray"])
def test_matches_keras_load_img(photos, name, preprocessing):
    got = load_image(photos[name], (96, 128), preprocessing=preprocessing)
    want = keras_reference(photos[name], (96, 128), preprocessing)
    assert got.shape == (96, 128, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_bytes_and_path_agree(photos):
    path = photos["chelsea_cat"]
    np.testing.assert_array_equal(load_image(path.read_bytes(), 64), load_image(path, 64))


def test_grayscale_becomes_three_equal_channels(photos):
    x = load_image(photos["cameraman_gray"], 32)
    np.testing.assert_array_equal(x[..., 0], x[..., 1])
    np.testing.assert_array_equal(x[..., 1], x[..., 2])


def _png_bytes(img: Image.Image, **save_kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **save_kwargs)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("orientation", "stored_from_upright"),
    [
        (3, lambda im: im.rotate(180)),
        (6, lambda im: im.rotate(90, expand=True)),
        (8, lambda im: im.rotate(270, expand=True)),
    ],
)
def test_exif_orientation_is_applied(photos, orientation, stored_from_upright):
    upright = Image.open(photos["chelsea_cat"]).convert("RGB").crop((0, 0, 120, 80))
    exif = Image.Exif()
    exif[0x0112] = orientation  # the Orientation tag
    stored = _png_bytes(stored_from_upright(upright), exif=exif)
    np.testing.assert_array_equal(
        load_image(stored, (80, 120), preprocessing="raw"), np.asarray(upright, dtype=np.float32)
    )


def test_rgba_is_composited_onto_white(photos):
    rgb = np.asarray(Image.open(photos["coffee_cup"]).convert("RGB").resize((40, 30)))
    alpha = np.tile(np.linspace(0, 255, 40).astype(np.uint8), (30, 1))
    rgba = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    a = alpha[..., None] / 255.0
    want = rgb * a + 255.0 * (1 - a)
    got = load_image(_png_bytes(rgba), (30, 40), preprocessing="raw")
    np.testing.assert_allclose(got, want, atol=1.0)


def test_sixteen_bit_grayscale_is_scaled(photos):
    gray = np.asarray(Image.open(photos["cameraman_gray"]).resize((32, 32)), dtype=np.uint16)
    img16 = Image.fromarray(gray * 257)  # uint16 -> mode "I;16"
    assert img16.mode == "I;16"
    got = load_image(_png_bytes(img16), 32, preprocessing="raw")
    np.testing.assert_allclose(got[..., 0], gray, atol=1.0)


def test_center_crop_keeps_the_middle(photos):
    path = photos["chelsea_cat"]  # 451 x 300: the crop drops 75 columns each side
    got = load_image(path, 300, fit="center_crop", preprocessing="raw")
    want = np.asarray(Image.open(path).convert("RGB").crop((75, 0, 375, 300)), dtype=np.float32)
    np.testing.assert_array_equal(got, want)


def test_batches_cover_all_files_in_order(photos):
    paths = [photos[k] for k in sorted(photos)]
    batches = list(iter_batches(paths, 24, batch_size=3))
    assert [len(b) for b, _ in batches] == [3, 1]
    stacked = np.concatenate([x for _, x in batches])
    np.testing.assert_array_equal(stacked, load_images(paths, 24))


@given(
    h=st.integers(1, 64),
    w=st.integers(1, 64),
    preprocessing=st.sampled_from(sorted(PREPROCESSING)),
)
def test_any_size_and_convention_round_trips_to_raw(photos, h, w, preprocessing):
    raw = load_image(photos["rocket_launch"], (h, w), preprocessing="raw")
    got = load_image(photos["rocket_launch"], (h, w), preprocessing=preprocessing)
    scale, offset = REFERENCE_SCALES[preprocessing]
    assert got.shape == (h, w, 3)
    np.testing.assert_allclose((got - offset) / scale, raw, atol=1e-3)


# --- bad input: each error names the file and says what was expected ---------------------


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.jpg"
    with pytest.raises(
        MissingFileError, match=r"no such file: .*nope.jpg \(expected an image file\)"
    ):
        load_image(missing, 32)


def test_directory(tmp_path):
    with pytest.raises(InvalidFileError, match="is a directory, expected an image file"):
        load_image(tmp_path, 32)


def test_not_an_image(tmp_path):
    fake = tmp_path / "notes.jpg"
    fake.write_text("these are not pixels")
    with pytest.raises(
        InvalidFileError, match=r"notes\.jpg is not an image .*starts with b'these a"
    ):
        load_image(fake, 32)


def test_truncated_jpeg(tmp_path, photos):
    data = photos["chelsea_cat"].read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(InvalidFileError, match=r"cut\.jpg could not be decoded \(truncated"):
        load_image(cut, 32)


def test_format_outside_the_accepted_list_is_refused(tmp_path, photos):
    ico = tmp_path / "icon.ico"
    Image.open(photos["coffee_cup"]).save(ico, format="ICO")
    with pytest.raises(InvalidFileError, match=r"icon\.ico is not an image in an accepted format"):
        load_image(ico, 32)


def test_empty_batch_and_bad_options(photos):
    with pytest.raises(FtcoreError, match="no images given"):
        load_images([], 32)
    with pytest.raises(ValueError, match="unknown preprocessing 'caffe'"):
        load_image(photos["coffee_cup"], 32, preprocessing="caffe")
    with pytest.raises(ValueError, match="fit must be"):
        load_image(photos["coffee_cup"], 32, fit="stretch")
