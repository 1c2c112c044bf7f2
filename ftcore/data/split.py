"""A seeded, stratified train / validation (/ test) split of a folder's images, keeping every
copy of one content (same sha256) in the same split.

Within each class the distinct contents are sorted by hash and shuffled by a generator
seeded with ``(seed, class name)``, then cut by the fractions (rounded half up): the split
of a class depends on the random seed and that class's files only. A fraction above zero that
leaves a class with no content in that split (or leaves train empty) is an
:class:`~ftcore.errors.EmptyDataError` naming the class and its count.

    >>> from ftcore.data.folder import ImageFile
    >>> files = [ImageFile(f"{c}/{i}.png", l, c, f"{c}{i}") for l, c in enumerate("ab") for i in range(5)]
    >>> s = make_split(files, ("a", "b"), validation=0.4, seed=1)
    >>> s.counts()
    {'train': {'a': 3, 'b': 3}, 'validation': {'a': 2, 'b': 2}}
    >>> make_split(files, ("a", "b"), validation=0.05)
    Traceback (most recent call last):
    ftcore.errors.EmptyDataError: validation fraction 0.05 leaves class 'a' empty: it has 5 distinct images; one in validation needs at least 10
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections import defaultdict
from collections.abc import Sequence

from ftcore.data.folder import ImageFile
from ftcore.errors import EmptyDataError

__all__ = ["SPLITS", "Split", "make_split"]

SPLITS = ("train", "validation", "test")


@dataclasses.dataclass(frozen=True)
class Split:
    """Files (sorted by path) and the split each belongs to (``split_of[path]``)."""

    seed: int
    fractions: dict[str, float]
    class_names: tuple[str, ...]
    files: tuple[ImageFile, ...]
    split_of: dict[str, str]

    def subset(self, name: str) -> tuple[ImageFile, ...]:
        """The files of split ``name`` ("train", "validation" or "test"), sorted by path."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; choose from {list(SPLITS)}")
        return tuple(f for f in self.files if self.split_of[f.path] == name)

    def counts(self) -> dict[str, dict[str, int]]:
        """``{split: {class: number of files}}`` for the splits with a positive fraction."""
        return {
            s: {c: sum(f.class_name == c for f in self.subset(s)) for c in self.class_names}
            for s in SPLITS
            if self.fractions[s] > 0
        }


def _cut(n: int, fraction: float) -> int:
    return math.floor(n * fraction + 0.5)


def _check_fractions(validation: float, test: float) -> dict[str, float]:
    if not (0 <= validation < 1 and 0 <= test < 1 and validation + test < 1):
        raise ValueError(
            f"validation ({validation}) and test ({test}) fractions must each be in [0, 1) "
            "and leave some for training"
        )
    train = round(1.0 - validation - test, 12)  # 0.5, not 0.49999999999999994
    return {"train": train, "validation": float(validation), "test": float(test)}


def _groups_by_class(files: Sequence[ImageFile]) -> dict[int, list[list[ImageFile]]]:
    """Class label -> groups of same-content files (a group goes with its first path's class)."""
    by_hash: dict[str, list[ImageFile]] = defaultdict(list)
    for f in sorted(files, key=lambda f: f.path):
        by_hash[f.sha256].append(f)
    groups: dict[int, list[list[ImageFile]]] = defaultdict(list)
    for sha in sorted(by_hash):
        groups[by_hash[sha][0].label].append(by_hash[sha])
    return groups


def _refuse_empty(name: str, fraction: float, cls: str, n: int) -> EmptyDataError:
    need = max(1, math.ceil(0.5 / fraction - 1e-9)) if fraction > 0 else "more"
    return EmptyDataError(
        f"{name} fraction {fraction:g} leaves class {cls!r} empty: it has {n} distinct images; "
        f"one in {name} needs at least {need}"
    )


def make_split(
    files: Sequence[ImageFile],
    class_names: Sequence[str],
    validation: float = 0.2,
    test: float = 0.0,
    seed: int = 0,
) -> Split:
    """Split ``files`` (e.g. ``load_folder(root).files``) stratified by class; see the module."""
    fractions = _check_fractions(validation, test)
    split_of: dict[str, str] = {}
    groups = _groups_by_class(files)
    for label, cls in enumerate(class_names):
        mine = list(groups.get(label, []))
        random.Random(f"{seed}:{cls}").shuffle(mine)
        n_val, n_test = _cut(len(mine), validation), _cut(len(mine), test)
        for name, fraction, n in (("validation", validation, n_val), ("test", test, n_test)):
            if fraction > 0 and n == 0:
                raise _refuse_empty(name, fraction, cls, len(mine))
        if len(mine) - n_val - n_test <= 0:
            raise EmptyDataError(
                f"class {cls!r} has {len(mine)} distinct images: none is left for train after "
                f"validation {validation:g} and test {test:g}"
            )
        names = ["validation"] * n_val + ["test"] * n_test
        names += ["train"] * (len(mine) - len(names))
        for group, name in zip(mine, names, strict=True):
            split_of.update((f.path, name) for f in group)
    ordered = tuple(sorted(files, key=lambda f: f.path))
    return Split(int(seed), fractions, tuple(class_names), ordered, split_of)
