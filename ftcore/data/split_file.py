"""The split file: which file of a folder is in which split, with its class and sha256, so that
a rerun, a resume and a later evaluation use exactly the same files.

JSON, written atomically (:mod:`ftcore.atomic`), readable by others as the umask allows::

    {"format": "ftcore-split", "version": 1, "seed": 0,
     "fractions": {"train": 0.8, "validation": 0.2, "test": 0.0},
     "class_names": ["dented", "ok"],
     "files": [{"path": "dented/1.png", "class": "dented", "sha256": "...", "split": "train"}, ...]}

Paths are relative to the image folder (POSIX); labels are indices into ``class_names``.
:func:`read_split` checks every file against the folder: a missing file or one whose content
changed is a :class:`~ftcore.data.errors.SplitMismatchError` listing all of them.

    >>> import tempfile; from PIL import Image; root = Path(tempfile.mkdtemp())
    >>> for i, rel in enumerate(["a/1.png", "a/2.png", "b/1.png", "b/2.png"]):
    ...     (root / rel).parent.mkdir(exist_ok=True); Image.new("L", (8, 8), 50 * i).save(root / rel)
    >>> from ftcore.data import load_folder, make_split
    >>> folder = load_folder(root)
    >>> split = make_split(folder.files, folder.class_names, validation=0.5, seed=3)
    >>> path = write_split(root / "split.json", split)
    >>> read_split(path, root) == split
    True
    >>> (root / "a/2.png").unlink()
    >>> read_split(path, root)
    Traceback (most recent call last):
    ftcore.data.errors.SplitMismatchError: split file ... no longer matches the folder ...: 1 file missing, 0 changed
      missing: a/2.png
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ftcore.atomic import atomic_path
from ftcore.data.errors import SplitMismatchError
from ftcore.data.folder import ImageFile, _sha256
from ftcore.data.split import SPLITS, Split
from ftcore.errors import InvalidFileError
from ftcore.file_kinds import read_text

__all__ = ["FORMAT", "VERSION", "read_split", "write_split"]

FORMAT, VERSION = "ftcore-split", 1


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_split(path: str | os.PathLike, split: Split) -> Path:
    """Write ``split`` to ``path`` (JSON, atomically); return the path."""
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "seed": split.seed,
        "fractions": split.fractions,
        "class_names": list(split.class_names),
        "files": [
            {
                "path": f.path,
                "class": f.class_name,
                "sha256": f.sha256,
                "split": split.split_of[f.path],
            }
            for f in split.files
        ],
    }
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        os.chmod(tmp, 0o666 & ~_umask())
    return Path(path)


def _parse(path: Path) -> Split:
    what = "a split file (JSON)"
    try:
        doc = json.loads(read_text(path, what))
        if doc.get("format") != FORMAT or doc.get("version") != VERSION:
            raise InvalidFileError(
                f"{path} is not a {FORMAT} version {VERSION} file "
                f"(format {doc.get('format')!r}, version {doc.get('version')!r})"
            )
        names = tuple(doc["class_names"])
        fractions = {s: float(doc["fractions"][s]) for s in SPLITS}
        files, split_of = [], {}
        for e in doc["files"]:
            if e["split"] not in SPLITS:
                raise InvalidFileError(f"{path}: {e['path']} has unknown split {e['split']!r}")
            files.append(ImageFile(e["path"], names.index(e["class"]), e["class"], e["sha256"]))
            split_of[e["path"]] = e["split"]
    except json.JSONDecodeError as e:
        raise InvalidFileError(f"{path} is not {what}: {e}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        if isinstance(e, InvalidFileError):
            raise
        raise InvalidFileError(
            f"{path} is not a valid split file: {type(e).__name__} {e}"
        ) from None
    return Split(int(doc["seed"]), fractions, names, tuple(files), split_of)


def read_split(path: str | os.PathLike, root: str | os.PathLike, verify: bool = True) -> Split:
    """Read a split file; with ``verify``, check that every file is still in ``root`` with the
    same sha256 (else :class:`SplitMismatchError` listing every missing and changed file)."""
    path, root = Path(path), Path(root)
    split = _parse(path)
    if not verify:
        return split
    missing, changed = [], []
    for f in split.files:
        try:
            digest = _sha256(root / f.path)
        except OSError:
            missing.append(f.path)
            continue
        if digest != f.sha256:
            changed.append(f.path)
    if missing or changed:
        lines = [
            f"split file {path} no longer matches the folder {root}: "
            f"{len(missing)} file{'' if len(missing) == 1 else 's'} missing, {len(changed)} changed"
        ]
        lines += [f"  missing: {p}" for p in missing]
        lines += [f"  changed (sha256 differs): {p}" for p in changed]
        raise SplitMismatchError("\n".join(lines))
    return split
