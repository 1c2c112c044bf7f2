"""The run folder of ``ftcore train``: where each file goes, refusing to overwrite a run, and
the ``FAILED`` marker a run that stops after the folder was made leaves behind.

The folder is made only once every check passed (folder scan, split, backbone, cut layer);
a refused run before that leaves nothing. Every file in it is written atomically.

    >>> import tempfile; run = RunFolder(Path(tempfile.mkdtemp()) / "run")
    >>> run.check(resume=False); run.create(resume=False); run.split.name
    'split.json'
    >>> run.check(resume=False)
    Traceback (most recent call last):
    ftcore.errors.FtcoreError: run folder ... already exists: ftcore train never overwrites a run; pass a new --output, or --resume to continue it
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import datetime
from pathlib import Path

from ftcore.atomic import atomic_path, write_text
from ftcore.errors import FtcoreError, first_line

__all__ = ["FILES", "RunFolder", "copy_readable", "default_run_dir", "write_readable"]


def default_run_dir() -> Path:
    """``./ftcore-runs/train-<timestamp>``: a new folder for every run."""
    return Path("ftcore-runs") / datetime.now().strftime("train-%Y%m%d-%H%M%S")


def write_readable(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically, readable by others as the umask allows
    (:mod:`ftcore.atomic` gives every file it moves into place the umask's mode)."""
    return write_text(path, text)


def copy_readable(src: Path, dst: Path) -> Path:
    """Copy ``src`` to ``dst`` atomically (mode as the umask allows)."""
    with atomic_path(dst, suffix=dst.suffix) as tmp:
        shutil.copyfile(src, tmp)
    return dst


#: attribute of :class:`RunFolder` -> its name in the run folder (the one definition; the
#: app's ``ftcore.app.run_folder`` finds a run's files by these names).
FILES = {
    "config": "config.json",
    "split": "split.json",
    "history": "history.jsonl",
    "checkpoints": "checkpoints",
    "logs": "logs",
    "best": "best.keras",
    "pb": "model.pb",
    "tflite": "model.tflite",
    "labels": "labels.txt",
    "report": "report.json",
    "curves": "learning_curves.png",
    "failed": "FAILED",
}


@dataclasses.dataclass(frozen=True)
class RunFolder:
    """The paths of one run folder (see the README's "Fine-tune on your own images")."""

    path: Path

    def __getattr__(self, name: str) -> Path:  # only for the names in FILES
        if name not in FILES:
            raise AttributeError(name)
        return self.path / FILES[name]

    def check(self, resume: bool) -> None:
        """Refuse an existing run without ``resume``, and a ``resume`` with nothing to resume."""
        if not resume:
            if self.path.exists():
                raise FtcoreError(
                    f"run folder {self.path} already exists: ftcore train never overwrites a "
                    "run; pass a new --output, or --resume to continue it"
                )
            return
        if not self.config.is_file() or not self.split.is_file():
            raise FtcoreError(
                f"nothing to resume in {self.path}: it has no config.json and split.json "
                "(written when a run starts); run without --resume"
            )
        if self.report.is_file() and not self.failed.exists():
            raise FtcoreError(
                f"the run in {self.path} already finished (see {self.report}); "
                "start a new run with a new --output"
            )

    def stored_config(self) -> dict:
        return json.loads(self.config.read_text(encoding="utf-8"))

    def create(self, resume: bool) -> None:
        self.path.mkdir(parents=True, exist_ok=resume)
        if resume and self.failed.exists():
            self.failed.unlink()

    def mark_failed(self, error: BaseException) -> None:
        """Write ``FAILED``: why the run stopped, and how to continue it."""
        what = "interrupted" if isinstance(error, KeyboardInterrupt) else first_line(error)
        write_readable(
            self.failed,
            f"ftcore train stopped: {what}\n\n{error}\n\n"
            f"{datetime.now().isoformat(timespec='seconds')}: the checkpoints in "
            f"{self.checkpoints} are complete up to the last finished epoch; rerun the same "
            "command with --resume to continue\n",
        )
