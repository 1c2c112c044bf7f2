"""The data wing's errors: every bad file of a folder in one error, and a split file that no
longer matches its folder. Both subclass :mod:`ftcore.errors` classes.

    >>> e = BadImagesError([BadFile("ok/a.jpg", "is empty (0 bytes)"), BadFile("ok/b.jpg", "x")])
    >>> print(e)
    2 bad image files (fix or remove them, or pass skip_bad=True to leave them out):
      ok/a.jpg: is empty (0 bytes)
      ok/b.jpg: x
    >>> isinstance(e, InvalidFileError), e.bad[0].path
    (True, 'ok/a.jpg')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ftcore.errors import InvalidFileError, MismatchError

__all__ = ["BadFile", "BadImagesError", "SplitMismatchError"]


@dataclasses.dataclass(frozen=True)
class BadFile:
    """A file left out of a folder dataset: its path (relative to the folder) and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class BadImagesError(InvalidFileError):
    """One or more files of an image folder cannot be used; ``bad`` lists every one."""

    def __init__(self, bad: Sequence[BadFile]):
        self.bad = list(bad)
        noun = "file" if len(self.bad) == 1 else "files"
        lines = [
            f"{len(self.bad)} bad image {noun} (fix or remove them, "
            "or pass skip_bad=True to leave them out):"
        ]
        lines += [f"  {b}" for b in self.bad]
        super().__init__("\n".join(lines))


class SplitMismatchError(MismatchError):
    """A split file whose files are missing or changed since it was written."""
