"""ftcore.data.checks on its own: the format gate before the size gate, the exact size
boundary, an unreadable path, and check_images' names (tests shaped like surviving mutants)."""

from __future__ import annotations

import pytest
from PIL import Image

from ftcore.data.checks import check_image, check_images
from ftcore.data.errors import BadFile

from .images import write_image


def test_a_format_predict_refuses_is_refused_as_such_whatever_its_size(tmp_path):
    """A tiny PCX (Pillow reads it, predict does not accept it) is refused for its format,
    not for its size: the header is read with the accepted formats only."""
    Image.new("RGB", (2, 2)).save(tmp_path / "tiny.pcx")
    assert check_image(tmp_path / "tiny.pcx").startswith(
        "is not an image in an accepted format (JPEG, PNG, BMP, GIF, TIFF, WEBP, PPM)"
    )


def test_a_side_of_exactly_min_size_is_accepted_one_less_is_not(tmp_path):
    write_image(tmp_path / "edge.png", size=(20, 10))
    assert check_image(tmp_path / "edge.png", min_size=10) is None
    assert check_image(tmp_path / "edge.png", min_size=11).startswith("too small: 20x10")


def test_an_unreadable_path_says_why_in_words(tmp_path):
    assert check_image(tmp_path / "gone.png") == "cannot read: No such file or directory"


def test_check_images_names_files_by_their_paths_unless_given_names(tmp_path):
    good = write_image(tmp_path / "good.png")
    (tmp_path / "empty.png").write_bytes(b"")
    bad = tmp_path / "empty.png"
    reason = "is empty (0 bytes), expected an image"
    assert check_images([good, bad]) == [BadFile(str(bad), reason)]
    assert check_images([good, bad], names=["g", "e"], workers=1) == [BadFile("e", reason)]


def test_check_images_refuses_names_that_do_not_match_the_paths(tmp_path):
    good = write_image(tmp_path / "good.png")
    with pytest.raises(ValueError, match=r"^1 paths but 2 names$"):
        check_images([good], names=["a", "b"])
