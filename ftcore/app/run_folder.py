"""What a run folder of ``ftcore train`` holds, found in one place (no TensorFlow needed).

The layout (names in :data:`FILES`): ``split.json`` (the data wing's split file), ``best.keras``
(the best weights), ``model.pb`` / ``model.tflite`` with their JSON sidecars, ``labels.txt``
and ``report.json``. The image folder the split refers to is ``report.json``'s ``data_dir``
(at the top or under ``configuration``; a relative one is taken from the run folder), the
input convention of ``best.keras`` its ``configuration.preprocessing`` (as
``ftcore/train`` writes them).

    >>> import tempfile; run = Path(tempfile.mkdtemp())
    >>> for name in ("split.json", "best.keras", "model.pb", "labels.txt"):
    ...     _ = (run / name).write_text("")
    >>> config = '{"configuration": {"data_dir": "../images", "preprocessing": "unit"}}'
    >>> _ = (run / "report.json").write_text(config)
    >>> files = find_run_files(run)
    >>> files.best_model.name, files.tflite, files.data_dir == (run / "../images")
    ('model.pb', None, True)
    >>> files.preprocessing
    'unit'
    >>> is_run_folder(run), is_run_folder(run / "best.keras")
    (True, False)
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from ftcore.errors import FtcoreError, InvalidFileError, MissingFileError
from ftcore.train.run_folder import FILES as RUN_FOLDER

__all__ = ["FILES", "FailedRunError", "RunFiles", "find_run_files", "is_run_folder"]


class FailedRunError(FtcoreError):
    """The run folder holds a ``FAILED`` marker: its run stopped, its files are not a result."""


#: field of :class:`RunFiles` -> file name in a run folder (``ftcore.train``'s names).
FILES = {
    field: RUN_FOLDER[name]
    for field, name in (
        ("split", "split"),
        ("keras", "best"),
        ("pb", "pb"),
        ("tflite", "tflite"),
        ("labels", "labels"),
        ("report", "report"),
    )
}
_MODELS = ("pb", "tflite", "keras")  # the order best_model picks in


@dataclasses.dataclass(frozen=True)
class RunFiles:
    """The files of one run folder (``None``: not there)."""

    root: Path
    split: Path | None
    keras: Path | None
    pb: Path | None
    tflite: Path | None
    labels: Path | None
    report: Path | None
    data_dir: Path | None
    preprocessing: str | None = None  # of best.keras (an export's sidecar says its own)

    @property
    def best_model(self) -> Path:
        """The run's best model: its frozen export ``model.pb`` (best.keras frozen and
        checked, labels and preprocessing in its sidecar), else ``model.tflite``, else
        ``best.keras`` (with ``labels.txt``)."""
        for kind in _MODELS:
            path = getattr(self, kind)
            if path is not None:
                return path
        raise MissingFileError(
            f"run folder {self.root} holds no model: expected one of "
            + ", ".join(FILES[k] for k in _MODELS)
        )


def is_run_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder with a split file or a model of a run."""
    path = Path(path)
    return path.is_dir() and any((path / FILES[k]).is_file() for k in ("split", "report", *_MODELS))


def _report(report: Path | None) -> dict:
    if report is None:
        return {}
    try:
        doc = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InvalidFileError(f"{report} is not a run report (JSON): {e}") from None
    if not isinstance(doc, dict):
        raise InvalidFileError(f"{report} is not a run report: expected a JSON object")
    return doc


def _setting(doc: dict, name: str) -> str | None:
    """``doc[name]``, else ``doc["configuration"][name]``, if a non-empty string."""
    config = doc.get("configuration")
    found = doc.get(name) or (config.get(name) if isinstance(config, dict) else None)
    return found if isinstance(found, str) and found else None


def find_run_files(run_dir: str | os.PathLike) -> RunFiles:
    """The files of the run folder ``run_dir`` (see the module docstring)."""
    root = Path(run_dir)
    if not root.is_dir():
        raise MissingFileError(f"no such run folder: {root}")
    failed = root / RUN_FOLDER["failed"]
    if failed.exists():
        why = failed.read_text(encoding="utf-8", errors="replace").partition("\n")[0]
        raise FailedRunError(
            f"run folder {root} is a failed run ({failed}: {why}); rerun it with "
            "ftcore train --resume, or evaluate a finished run"
        )
    found = {k: (root / name if (root / name).is_file() else None) for k, name in FILES.items()}
    doc = _report(found["report"])
    data_dir = _setting(doc, "data_dir")
    return RunFiles(
        root=root,
        data_dir=root / data_dir if data_dir else None,
        preprocessing=_setting(doc, "preprocessing"),
        **found,
    )
