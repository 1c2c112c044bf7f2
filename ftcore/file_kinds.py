"""What a model path is (classified by suffix, in this one place), and the checks every loader
makes before it reads a file: missing, a directory, empty, unreadable.

:func:`model_kind` is what the CLI and :func:`ftcore.predict.predictor.load` dispatch on;
:func:`read_file` / :func:`check_file` raise :class:`~ftcore.errors.MissingFileError` or
:class:`~ftcore.errors.InvalidFileError` with one line naming the file and what was expected.

    >>> import tempfile; folder = Path(tempfile.mkdtemp())
    >>> for name in ("m.pb", "m.tflite", "m.keras", "m.weights.h5", "m.ckpt-9.meta", "m.ckpt-9.index"):
    ...     _ = (folder / name).write_bytes(b"...")
    >>> [model_kind(folder / p) for p in ("m.pb", "m.tflite", "m.keras", "m.weights.h5", "m.ckpt-9.meta")]
    ['pb', 'tflite', 'keras', 'h5', 'meta']
    >>> model_kind(folder), model_kind(folder / "m.ckpt-9"), model_kind(folder / "m.ckpt-9.index")
    ('checkpoint', 'checkpoint', 'checkpoint')
    >>> read_file("/no/such.pb", KINDS["pb"])
    Traceback (most recent call last):
    ftcore.errors.MissingFileError: no such file: /no/such.pb (expected a frozen graph (.pb))
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ftcore.errors import InvalidFileError, MissingFileError

#: kind -> what a file of that kind is, as error messages say it.
KINDS: dict[str, str] = {
    "pb": "a frozen graph (.pb)",
    "tflite": "a LiteRT model (.tflite)",
    "onnx": "an ONNX model (.onnx)",
    "keras": "a Keras model (.keras)",
    "h5": "a weights file (.h5)",
    "meta": "a meta graph (.meta)",
    "checkpoint": "a TF checkpoint (directory, prefix, .index or .data-* file)",
}
_CHECKPOINT_FILE = re.compile(r"\.(index|data-\d{5}-of-\d{5})$")


def model_kind(path: str | os.PathLike) -> str:
    """``"pb"``, ``"tflite"``, ``"onnx"``, ``"keras"``, ``"h5"``, ``"meta"`` by suffix, else ``"checkpoint"``.

    Nothing at ``path`` (nor a checkpoint prefix ``path.index``) raises
    :class:`MissingFileError`; another suffix naming an existing file (not one of a
    checkpoint's files) :class:`InvalidFileError` listing what is accepted.
    """
    path = Path(path)
    kind = path.suffix[1:]
    if not path.exists() and not Path(f"{path}.index").exists():
        expected = KINDS.get(kind, "a model file or checkpoint")
        raise MissingFileError(f"no such file or directory: {path} (expected {expected})")
    if kind in KINDS and kind != "checkpoint":
        return kind
    if path.is_file() and not _CHECKPOINT_FILE.search(path.name):
        raise InvalidFileError(
            f"cannot tell what {path} is from its name: expected " + ", ".join(KINDS.values())
        )
    return "checkpoint"


def check_file(path: str | os.PathLike, what: str) -> Path:
    """``path`` as a Path if it is a non-empty regular file, else a one-line error naming ``what``."""
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"no such file: {path} (expected {what})")
    if path.is_dir():
        raise InvalidFileError(f"{path} is a directory, expected {what}")
    if not path.is_file():
        raise InvalidFileError(f"{path} is not a regular file, expected {what}")
    if path.stat().st_size == 0:
        raise InvalidFileError(f"{path} is empty (0 bytes), expected {what}")
    return path


def read_file(path: str | os.PathLike, what: str) -> bytes:
    """The bytes of ``path`` after :func:`check_file`; read errors become :class:`InvalidFileError`."""
    path = check_file(path, what)
    try:
        return path.read_bytes()
    except OSError as e:
        raise InvalidFileError(f"cannot read {path} ({what}): {e.strerror or e}") from None


def read_text(path: str | os.PathLike, what: str) -> str:
    """:func:`read_file` decoded as UTF-8; other bytes are an :class:`InvalidFileError`."""
    data = read_file(path, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidFileError(
            f"{path} is not UTF-8 text ({what}): {e.reason} at byte {e.start}"
        ) from None
