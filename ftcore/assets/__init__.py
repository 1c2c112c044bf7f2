"""Data the library ships and reads at run time (package data, not test fixtures).

- ``photos/``: four real photographs (CC0 / public domain; sources and licenses in
  ``fixtures/README.md``), the default real images of every export's self-check.

    >>> sorted(photo_paths())
    ['cameraman_gray', 'chelsea_cat', 'coffee_cup', 'rocket_launch']
"""

from __future__ import annotations

from pathlib import Path

PHOTOS_DIR = Path(__file__).resolve().parent / "photos"

__all__ = ["PHOTOS_DIR", "photo_paths"]


def photo_paths() -> dict[str, Path]:
    """The shipped photographs, keyed by file stem."""
    return {p.stem: p for p in sorted(PHOTOS_DIR.iterdir()) if p.suffix in {".jpg", ".png"}}
