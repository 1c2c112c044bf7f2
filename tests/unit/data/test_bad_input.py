"""Bad input of a folder dataset, found before any training (issue 21, point 5): every bad file
is collected and one BadImagesError lists them all with their reasons; ``skip_bad=True``
returns them instead. Real files made with Pillow; the reasons are pinned one by one."""

from __future__ import annotations

import os

import pytest
from PIL import Image

from ftcore.data import BadImagesError, load_folder
from ftcore.data.checks import check_image
from ftcore.errors import EmptyDataError, InvalidFileError

from .images import jpeg_bytes, make_folder, write_image


def _garbage_inside(jpeg: bytes) -> bytes:
    """A JPEG with 1 KiB of its entropy-coded middle replaced by other bytes."""
    mid = len(jpeg) // 2
    return jpeg[:mid] + bytes(range(256)) * 4 + jpeg[mid + 1024 :]


# file name -> (how to make it in a class folder, the start of its reason)
BAD = {
    "truncated.jpg": (lambda p: p.write_bytes(jpeg_bytes()[:-200]), "could not be decoded (truncated or corrupt?): image file is truncated"),
    "corrupt.jpg": (lambda p: p.write_bytes(jpeg_bytes()[:2] + b"\x00" * 300), "is not an image in an accepted format"),
    "broken.jpg": (lambda p: p.write_bytes(_garbage_inside(jpeg_bytes())), "could not be decoded (truncated or corrupt?): broken data stream"),
    "text.jpg": (lambda p: p.write_text("this is a text file\n"), "is not an image in an accepted format (JPEG, PNG, BMP, GIF, TIFF, WEBP, PPM); it starts with b'this is '"),
    "empty.jpg": (lambda p: p.write_bytes(b""), "is empty (0 bytes), expected an image"),
    "dot.png": (lambda p: Image.new("RGB", (1, 1)).save(p), "too small: 1x1 pixels; the minimum is 8 pixels on each side (min_size=8)"),
    "thin.png": (lambda p: Image.new("L", (200, 7)).save(p), "too small: 200x7 pixels"),
    "loop.jpg": (lambda p: os.symlink(p.name, p), "symlink loop (the link leads back to itself)"),
}  # fmt: skip


@pytest.fixture
def folder(tmp_path):
    root = make_folder(tmp_path / "images", {"ok": 4, "dented": 4}, suffix=".jpg")
    for name, (make, _) in BAD.items():
        make(root / "dented" / name)
    return root


def test_every_bad_file_is_listed_in_one_error(folder):
    with pytest.raises(BadImagesError) as info:
        load_folder(folder)
    e = info.value
    assert isinstance(e, InvalidFileError)
    assert str(e).splitlines()[0] == (
        f"{len(BAD)} bad image files (fix or remove them, or pass skip_bad=True to leave them out):"
    )
    reasons = {b.path: b.reason for b in e.bad}
    assert set(reasons) == {f"dented/{n}" for n in BAD}
    for name, (_, reason) in BAD.items():
        assert reasons[f"dented/{name}"].startswith(reason), name
        assert f"  dented/{name}: {reasons[f'dented/{name}']}" in str(e).splitlines()


def test_skip_bad_returns_them_and_keeps_the_good_files(folder):
    loaded = load_folder(folder, skip_bad=True)
    assert sorted(b.path for b in loaded.bad) == sorted(f"dented/{n}" for n in BAD)
    assert [f.path for f in loaded.files] == [f"dented/{i}.jpg" for i in range(4)] + [
        f"ok/{i}.jpg" for i in range(4)
    ]


def test_a_class_of_bad_files_only_is_empty_even_when_skipping(tmp_path):
    make_folder(tmp_path, {"ok": 2})
    (tmp_path / "dented").mkdir()
    (tmp_path / "dented" / "a.jpg").write_bytes(b"")
    (tmp_path / "dented" / "b.jpg").write_text("no")
    with pytest.raises(BadImagesError, match=r"^2 bad image files"):
        load_folder(tmp_path)
    with pytest.raises(
        EmptyDataError, match=r"^class 'dented' has no usable images: all 2 of its files are bad"
    ):
        load_folder(tmp_path, skip_bad=True)


def test_min_size_is_an_option(tmp_path):
    write_image(tmp_path / "small.png", size=(20, 10))
    assert check_image(tmp_path / "small.png") is None
    assert check_image(tmp_path / "small.png", min_size=11) == (
        "too small: 20x10 pixels; the minimum is 11 pixels on each side (min_size=11)"
    )


@pytest.mark.parametrize(
    ("w", "h", "reason"),
    [  # Pillow only warns over Image.MAX_IMAGE_PIXELS, and raises over twice it: both refused
        (65, 64, "65x64 = 4160 pixels is over Pillow's limit of 4096 (Image.MAX_IMAGE_PIXELS)"),
        (
            100,
            100,
            "Image size (10000 pixels) exceeds limit of 8192 pixels, could be decompression",
        ),
    ],
)
def test_a_decompression_bomb_is_refused(tmp_path, monkeypatch, w, h, reason):
    """The limit is lowered so that the 'bomb' is a small real file."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 64 * 64)
    Image.new("L", (w, h)).save(tmp_path / "bomb.png")
    got = check_image(tmp_path / "bomb.png")
    assert got.startswith("refused as a possible decompression bomb: " + reason), got
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", w * h)  # at the limit: accepted
    assert check_image(tmp_path / "bomb.png") is None


def test_the_bomb_warning_range_is_refused_not_warned(tmp_path, monkeypatch, recwarn):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 64 * 64)
    make_folder(tmp_path, {"a": 1, "b": 1})
    Image.new("L", (80, 80)).save(tmp_path / "a" / "big.png")  # 6400 pixels: Pillow only warns
    with pytest.raises(BadImagesError) as info:
        load_folder(tmp_path)
    [bad] = info.value.bad
    assert bad.reason == (
        "refused as a possible decompression bomb: 80x80 = 6400 pixels is over Pillow's limit "
        "of 4096 (Image.MAX_IMAGE_PIXELS)"
    )
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]
