"""ftcore.predict.images beyond 8-bit RGB: 16/32-bit grayscale, transparency, crop geometry,
argument checks and the messages of refused files (cases mutation testing showed untested)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from ftcore.errors import FtcoreError, InvalidFileError
from ftcore.predict.images import iter_batches, load_image, load_images


def _png(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **kw)
    return buf.getvalue()


def _raw(source, size=4, **kw) -> np.ndarray:
    return load_image(source, size, preprocessing="raw", resample="nearest", **kw)


@pytest.mark.parametrize(("value", "expected"), [(65535, 255), (65280, 254), (32896, 128), (0, 0)])
def test_16_bit_grayscale_is_scaled_to_8_bit(value, expected):
    img = Image.fromarray(np.full((4, 4), value, np.uint16))
    out = _raw(_png(img))
    assert img.mode.startswith("I;16")
    assert out.shape == (4, 4, 3) and np.all(out == expected)


def test_big_endian_16_bit_tiff_is_scaled_too():
    img = Image.fromarray(np.full((4, 4), 32896, np.uint16).astype(">u2"))
    buf = io.BytesIO()
    img.save(buf, format="TIFF")
    assert Image.open(io.BytesIO(buf.getvalue())).mode == "I;16B"
    assert np.all(_raw(buf.getvalue()) == 128)  # scaled, not clipped to 255


@pytest.mark.parametrize(
    ("value", "expected"),
    [(200, 200), (255, 255), (256, 0), (300, 1), (65535, 255), (70000, 255), (-5, 0)],
)
def test_32_bit_grayscale_keeps_8_bit_values_and_scales_wider_ones(value, expected):
    img = Image.fromarray(np.full((4, 4), value, np.int32))
    buf = io.BytesIO()
    img.save(buf, format="TIFF")
    assert img.mode == "I" and np.all(_raw(buf.getvalue()) == expected)


def test_transparent_palette_pixels_become_white():
    img = Image.new("P", (4, 4), 0)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)  # 0: black, 1: red
    img.putpixel((0, 0), 1)
    out = _raw(_png(img, transparency=0))
    assert out[0, 0].tolist() == [255, 0, 0]  # opaque red stays red
    assert out[3, 3].tolist() == [255, 255, 255]  # transparent black shows the white background
    opaque = _raw(_png(img))  # the same palette without transparency: black stays black
    assert opaque[3, 3].tolist() == [0, 0, 0]


def test_grayscale_with_alpha_is_composited_on_white():
    img = Image.new("LA", (4, 4), (0, 0))  # black, fully transparent
    img.putpixel((0, 0), (0, 255))  # one opaque black pixel
    out = _raw(_png(img))
    assert out[0, 0].tolist() == [0, 0, 0] and out[3, 3].tolist() == [255, 255, 255]


def _bands(width: int, height: int, horizontal: bool) -> bytes:
    """Three bands (red, green, blue) across the longer side; the middle one is half of it."""
    arr = np.zeros((height, width, 3), np.uint8)
    n = width if horizontal else height
    edges = [0, n // 4, 3 * n // 4, n]
    for c, (a, b) in enumerate(zip(edges, edges[1:], strict=False)):
        if horizontal:
            arr[:, a:b, c] = 255
        else:
            arr[a:b, :, c] = 255
    return _png(Image.fromarray(arr))


@pytest.mark.parametrize(
    ("w", "h", "horizontal"), [(40, 20, True), (20, 40, False), (48, 24, True)]
)
def test_center_crop_keeps_the_middle(w, h, horizontal):
    out = _raw(_bands(w, h, horizontal), size=(6, 6), fit="center_crop")
    assert np.all(out == [0, 255, 0]), "only the green middle band is left"
    squashed = _raw(_bands(w, h, horizontal), size=(6, 6))
    assert set(map(tuple, squashed.reshape(-1, 3).tolist())) == {
        (255, 0, 0),
        (0, 255, 0),
        (0, 0, 255),
    }


def test_center_crop_keeps_all_of_an_image_of_the_target_aspect():
    out = _raw(_bands(20, 40, False), size=(4, 2), fit="center_crop")  # same 1:2 aspect
    assert out[0].tolist() == [[255, 0, 0]] * 2 and out[-1].tolist() == [[0, 0, 255]] * 2


def test_center_crop_to_a_non_square_size():
    out = _raw(_bands(40, 20, True), size=(10, 20), fit="center_crop")  # 20 wide, 10 high
    assert out.shape == (10, 20, 3)
    assert np.all(out[:, 5:15] == [0, 255, 0]) and np.all(out[:, 0] == [255, 0, 0])


@pytest.mark.parametrize("size", [0, (0, 4), (4, 0), (-1, 4)])
def test_non_positive_sizes_are_refused(size):
    with pytest.raises(ValueError, match=r"image size must be positive, got"):
        _raw(_png(Image.new("RGB", (4, 4))), size=size)


def test_bad_options_name_the_choices():
    png = _png(Image.new("RGB", (4, 4)))
    with pytest.raises(ValueError, match=r"unknown resample 'cubic'; choose from \['bicubic', "):
        load_image(png, 4, resample="cubic")
    with pytest.raises(ValueError, match=r"batch_size must be positive, got 0"):
        next(iter_batches([png], 4, batch_size=0))


def test_refused_files_say_what_and_which(tmp_path):
    with pytest.raises(
        InvalidFileError, match=r"^<0 bytes> is empty \(0 bytes\), expected an image$"
    ):
        _raw(b"")
    bad = b"\x89PNG\r\n\x1a\nnot really"
    with pytest.raises(
        InvalidFileError, match=r"^<18 bytes> (is not an image|could not be decoded)"
    ):
        _raw(bad)
    text = b"hello, not an image"
    with pytest.raises(
        InvalidFileError, match=r"accepted format \(JPEG, PNG, .*starts with b'hello, n'$"
    ):
        _raw(text)
    truncated = _png(Image.new("RGB", (64, 64), (1, 2, 3)))[:-40]
    path = tmp_path / "cut.png"
    path.write_bytes(truncated)
    with pytest.raises(
        InvalidFileError, match=rf"^{path} could not be decoded .*\): image file is truncated"
    ):
        _raw(path)
    with pytest.raises(
        FtcoreError, match=r"^no images given: expected at least one path or bytes object$"
    ):
        load_images([], 4)


def test_a_decompression_bomb_is_refused(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # a 20x20 image is then over twice that
    with pytest.raises(
        InvalidFileError, match=r"^<\d+ bytes> is too large to decode safely: Image size"
    ):
        _raw(_png(Image.new("RGB", (20, 20))))


def test_options_reach_every_image_of_a_batch():
    pngs = [_png(Image.new("RGB", (4, 4), (255, 0, 0)))] * 33
    batch = load_images(pngs[:2], 4, preprocessing="raw")
    assert batch.shape == (2, 4, 4, 3) and batch.max() == 255.0
    chunks = list(iter_batches(pngs, 4, preprocessing="raw"))
    assert [len(c) for c, _ in chunks] == [32, 1]  # default batch size 32
    assert all(arr.max() == 255.0 for _, arr in chunks)
    assert [len(c) for c, _ in iter_batches(pngs[:3], 4, batch_size=1)] == [1, 1, 1]
