"""TF Saver checkpoints on disk, without building a graph: find and read them; write the
``checkpoint`` state file and the backup links that ``GraphFineTuner.save`` uses.

A checkpoint is a prefix (``dir/model.ckpt-42``) with ``.index`` and ``.data-*`` files, and
usually a ``.meta`` graph and a ``checkpoint`` state file naming the newest one (its writer
:func:`write_state` and reader :func:`read_state` are both here). Every
function here accepts a directory, a prefix, or one of the checkpoint's files.

    >>> from ftcore_fixtures.build import ensure_built
    >>> ckpt_dir = ensure_built().slim_ckpt_dir  # the test models' slim MobileNetV2 checkpoint
    >>> prefix = resolve_checkpoint(ckpt_dir)  # the newest checkpoint in the directory
    >>> prefix.rsplit("/", 1)[1].startswith("model.ckpt-")
    True
    >>> [(i.name, i.shape) for i in checkpoint_contents(prefix)][:1]
    [('MobilenetV2/Conv/BatchNorm/beta', (16,))]
    >>> read_checkpoint_value(prefix, "MobilenetV2/Conv/weights").shape
    (3, 3, 3, 16)
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import tensorflow as tf

from ftcore.atomic import write_text
from ftcore.errors import InvalidFileError, MissingFileError, first_line, unknown_name
from ftcore.file_kinds import check_file
from ftcore.graph.names import VarInfo

#: Keys a TF2 object-based checkpoint holds besides variables.
_BOOKKEEPING = frozenset({"_CHECKPOINTABLE_OBJECT_GRAPH"})
_SUFFIX = re.compile(r"\.(index|meta|data-\d{5}-of-\d{5})$")


def _step(prefix: Path) -> int:
    m = re.search(r"-(\d+)$", prefix.name)
    return int(m.group(1)) if m else -1


#: TF's state file in a checkpoint directory: it names the newest checkpoint.
STATE_FILE = "checkpoint"


def write_state(directory: str | os.PathLike, stem: str) -> Path:
    """Point ``directory/checkpoint`` (TF's state file) at checkpoint ``stem``, atomically.

    The name is relative (``save_relative_paths``), so a copied directory keeps working.
    """
    return write_text(
        Path(directory) / STATE_FILE,
        f'model_checkpoint_path: "{stem}"\nall_model_checkpoint_paths: "{stem}"\n',
    )


def read_state(directory: str | os.PathLike) -> str | None:
    """The checkpoint path the state file of ``directory`` names (TF writes absolute paths;
    ftcore's relative names come back joined to ``directory``), or None without a readable
    state file."""
    try:
        state = tf.train.get_checkpoint_state(str(directory))
    except (ValueError, tf.errors.OpError):  # an unreadable state file
        return None
    return state.model_checkpoint_path if state and state.model_checkpoint_path else None


def link_previous(directory: Path, stem: str) -> str | None:
    """Hard-link a complete existing checkpoint ``stem`` to ``<stem>.previous``; return that
    name, or None if there is no such checkpoint. A backup that the state file already names
    (a save interrupted while moving files in) is the complete one and is kept as it is."""
    backup = f"{stem}.previous"
    named = read_state(directory)
    if named is not None and Path(named).name == backup:
        return backup
    if not (directory / f"{stem}.index").is_file():
        return None
    for f in directory.glob(f"{stem}.*"):
        if f.name.startswith(backup):
            continue
        link = directory / (backup + f.name[len(stem) :])
        link.unlink(missing_ok=True)
        os.link(f, link)
    return backup


def resolve_checkpoint(path: str | os.PathLike) -> str:
    """The checkpoint prefix for a directory (newest checkpoint), a prefix or a checkpoint file.

    A directory uses its ``checkpoint`` state file; TF writes absolute paths there, so a
    copied or moved directory uses the checkpoint of that name inside it. Without a usable
    state file, the ``*.index`` with the highest step. Raises :class:`MissingFileError`
    naming what is missing.
    """
    path = Path(path)
    if path.is_dir():
        state = read_state(path)
        if state is not None:  # else (none, or unreadable) use the indexes
            named = Path(state)  # absolute when TF wrote it
            for candidate in (path / named.name, named if named.is_absolute() else path / named):
                if Path(f"{candidate}.index").is_file():
                    return str(candidate)
        indexes = sorted(path.glob("*.index"), key=lambda p: _step(p.with_suffix("")))
        if not indexes:
            found = sorted(p.name for p in path.iterdir())[:8]
            raise MissingFileError(
                f"no checkpoint in directory {str(path)!r}: expected a 'checkpoint' state file "
                f"or <prefix>.index + <prefix>.data-* files; found {found or 'nothing'}"
            )
        path = indexes[-1].with_suffix("")
    prefix = Path(_SUFFIX.sub("", str(path)))
    index = Path(f"{prefix}.index")
    if not index.is_file():
        siblings = [p.name[: -len(".index")] for p in prefix.parent.glob("*.index")]
        raise MissingFileError(
            f"no checkpoint at {str(prefix)!r}: {index.name} does not exist"
            + (f"; checkpoints there: {sorted(siblings)}" if siblings else "")
        )
    check_file(index, "a checkpoint index (.index)")
    if not list(prefix.parent.glob(f"{prefix.name}.data-*")):
        raise MissingFileError(
            f"checkpoint {str(prefix)!r} has an index but no data file ({prefix.name}.data-*)"
        )
    return str(prefix)


def _reader(prefix: str):
    try:
        return tf.train.load_checkpoint(prefix)
    except (tf.errors.OpError, ValueError) as e:
        raise InvalidFileError(
            f"cannot read checkpoint {prefix!r}: not a valid TF checkpoint index ({first_line(e)})"
        ) from None


def truncated_error(prefix: str, e: Exception) -> InvalidFileError:
    """The error for a checkpoint whose data file cannot be read in full."""
    return InvalidFileError(
        f"checkpoint data {prefix}.data-* is truncated or corrupt ({first_line(e)}); "
        "re-copy or re-save the checkpoint"
    )


def checkpoint_contents(path: str | os.PathLike, verify: bool = False) -> list[VarInfo]:
    """A checkpoint's variables (name, shape, dtype), sorted by name, without building a graph.

    ``verify=True`` also reads every value, so a truncated ``.data`` file raises
    :class:`InvalidFileError` here rather than at restore time.
    """
    prefix = resolve_checkpoint(path)
    reader = _reader(prefix)
    shapes, dtypes = reader.get_variable_to_shape_map(), reader.get_variable_to_dtype_map()
    names = sorted(n for n in shapes if n not in _BOOKKEEPING)
    if verify:
        try:
            for n in names:
                reader.get_tensor(n)
        except (tf.errors.OpError, IndexError, ValueError) as e:
            raise truncated_error(prefix, e) from None
    return [VarInfo(n, tuple(shapes[n]), dtypes[n].name) for n in names]


def read_checkpoint_value(path: str | os.PathLike, name: str) -> np.ndarray:
    """The value stored under ``name`` in a checkpoint; unknown names list close matches."""
    prefix = resolve_checkpoint(path)
    reader = _reader(prefix)
    if not reader.has_tensor(name):
        names = [n for n in reader.get_variable_to_shape_map() if n not in _BOOKKEEPING]
        raise unknown_name("checkpoint variable", name, sorted(names), where=prefix)
    try:
        return np.asarray(reader.get_tensor(name))
    except (tf.errors.OpError, IndexError, ValueError) as e:
        raise truncated_error(prefix, e) from None
