"""The library's own photos (the exports' default self-check images) are the fixtures' photos."""

from __future__ import annotations

from ftcore.assets import photo_paths
from ftcore_fixtures import photo_paths as fixture_photo_paths


def test_library_photos_are_the_fixture_photos_byte_for_byte():
    ours, theirs = photo_paths(), fixture_photo_paths()
    assert sorted(ours) == sorted(theirs) and len(ours) == 4
    for stem, path in ours.items():
        assert path.read_bytes() == theirs[stem].read_bytes(), stem


def test_library_photos_live_inside_the_ftcore_package():
    import ftcore

    root = ftcore.__path__[0]
    assert all(str(p).startswith(root) for p in photo_paths().values())
