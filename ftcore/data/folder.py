"""A folder of class subfolders -> class names and the image files of each class, with the
sha256 of every file and the groups of files whose content is the same.

Class names are the sorted subfolder names, or a given list (its order gives the labels)
checked against the subfolders, with close matches for a typo. Subfolders of a class folder
are searched too. Files that cannot be used (a symlink loop, a name that is not UTF-8, an
unreadable or non-regular file) are collected in ``bad``, not raised one at a time; the
layout errors (no such folder, no class folders, one class only, a class folder with no image
files) are raised at once.

    >>> import tempfile; root = Path(tempfile.mkdtemp())
    >>> for rel in ("ok/1.png", "ok/2.png", "dented/1.png", "dented/notes.txt"):
    ...     (root / rel).parent.mkdir(exist_ok=True); _ = (root / rel).write_bytes(rel[:3].encode())
    >>> scan = scan_folder(root)
    >>> scan.class_names, [f.path for f in scan.files], scan.duplicates, scan.ignored
    (('dented', 'ok'), ['dented/1.png', 'ok/1.png', 'ok/2.png'], (('ok/1.png', 'ok/2.png'),), ('dented/notes.txt',))
    >>> scan_folder(root, ["ok", "dentd"])
    Traceback (most recent call last):
    ftcore.errors.UnknownNameError: unknown class 'dentd' in ...; closest: 'dented'
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import os
import stat
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from ftcore.data.errors import BadFile
from ftcore.errors import EmptyDataError, InvalidFileError, MissingFileError, unknown_name

__all__ = ["IMAGE_SUFFIXES", "FolderScan", "ImageFile", "scan_folder"]

#: File name endings (lower-cased) taken as images; other files are listed in ``ignored``.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")


@dataclasses.dataclass(frozen=True)
class ImageFile:
    """One image of a folder dataset: path relative to the folder (POSIX), class, content hash."""

    path: str
    label: int
    class_name: str
    sha256: str


@dataclasses.dataclass(frozen=True)
class FolderScan:
    """What :func:`scan_folder` found under ``root`` (files sorted by path)."""

    root: Path
    class_names: tuple[str, ...]
    files: tuple[ImageFile, ...]
    duplicates: tuple[tuple[str, ...], ...]  # paths sharing one content, each group sorted
    bad: tuple[BadFile, ...]
    ignored: tuple[str, ...]  # files whose name does not end in an image suffix


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _dev_ino(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_dev, st.st_ino


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _class_folders(root: Path) -> list[str]:
    if not root.exists():
        raise MissingFileError(f"no such folder: {root} (expected a folder of class subfolders)")
    if not root.is_dir():
        raise InvalidFileError(f"{root} is not a folder, expected a folder of class subfolders")
    names = sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
    if not names:
        loose = sum(1 for e in os.scandir(root) if e.name.lower().endswith(IMAGE_SUFFIXES))
        hint = f" ({loose} image files lie directly in it)" if loose else ""
        raise EmptyDataError(
            f"{root} has no class subfolders{hint}: expected one folder per class holding its "
            f"images, e.g. {root}/cat/1.jpg and {root}/dog/1.jpg"
        )
    return names


def _choose_classes(root: Path, folders: list[str], class_names: Sequence[str] | None) -> list[str]:
    if class_names is None:
        names = folders
    else:
        names = list(class_names)
        for name in names:
            if name not in folders:
                raise unknown_name("class", name, folders, where=f"{root}'s subfolders")
        if len(set(names)) != len(names):
            raise InvalidFileError(f"class names repeat: {names}")
        extra = sorted(set(folders) - set(names))
        if extra:
            raise InvalidFileError(
                f"{root} has class folders not among the given class names: "
                + ", ".join(repr(e) for e in extra)
                + f" (given: {names}); add them or move them out"
            )
    if len(names) < 2:
        raise EmptyDataError(
            f"{root} has only one class folder ({names[0]!r}): a classifier needs at least two"
        )
    return names


def _walk(folder: Path, rel: str, seen: set, out: list, bad: list) -> None:
    """Append (relative path, Path) of every file under ``folder``; loops and odd names to ``bad``."""
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        path, sub = Path(entry.path), f"{rel}/{entry.name}"
        if not _utf8(entry.name):
            shown = f"{rel}/{os.fsencode(entry.name)!r}"
            bad.append(BadFile(shown, "file name is not valid UTF-8 (rename it)"))
            continue
        try:
            st = os.stat(path)  # follows symlinks
        except OSError as e:
            if e.errno == errno.ELOOP:
                bad.append(BadFile(sub, "symlink loop (the link leads back to itself)"))
            elif entry.is_symlink():
                bad.append(BadFile(sub, f"broken symlink to {os.readlink(path)}"))
            else:
                bad.append(BadFile(sub, f"cannot stat: {e.strerror}"))
            continue
        if stat.S_ISDIR(st.st_mode):
            if (st.st_dev, st.st_ino) in seen:
                bad.append(BadFile(sub, "symlink loop (the folder is already being searched)"))
            else:
                _walk(path, sub, seen | {(st.st_dev, st.st_ino)}, out, bad)
        elif not stat.S_ISREG(st.st_mode):
            bad.append(BadFile(sub, "not a regular file (a pipe, socket or device)"))
        else:
            out.append((sub, path))


def scan_folder(root: str | os.PathLike, class_names: Sequence[str] | None = None) -> FolderScan:
    """Scan ``root/<class>/...`` (see the module docstring); nothing is decoded here."""
    root = Path(root)
    names = _choose_classes(root, _class_folders(root), class_names)
    files, bad, ignored = [], [], []
    for label, name in enumerate(names):
        found: list = []
        top = root / name
        _walk(top, name, {_dev_ino(root), _dev_ino(top)}, found, bad)
        images = [(r, p) for r, p in found if r.lower().endswith(IMAGE_SUFFIXES)]
        ignored += [r for r, p in found if not r.lower().endswith(IMAGE_SUFFIXES)]
        if not images and not any(b.path.startswith(f"{name}/") for b in bad):
            raise EmptyDataError(
                f"class folder {top} has no image files (expected files ending in "
                + ", ".join(IMAGE_SUFFIXES)
                + ")"
            )
        for rel, path in images:
            try:
                files.append(ImageFile(rel, label, name, _sha256(path)))
            except OSError as e:
                bad.append(BadFile(rel, f"cannot read: {e.strerror or e}"))
    return FolderScan(
        root,
        tuple(names),
        tuple(sorted(files, key=lambda f: f.path)),
        _duplicates(files),
        tuple(bad),
        tuple(sorted(ignored)),
    )


def _duplicates(files: Sequence[ImageFile]) -> tuple[tuple[str, ...], ...]:
    by_hash: dict[str, list[str]] = defaultdict(list)
    for f in files:
        by_hash[f.sha256].append(f.path)
    return tuple(sorted(tuple(sorted(p)) for p in by_hash.values() if len(p) > 1))
