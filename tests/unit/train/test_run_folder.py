"""The run folder: no overwrite, nothing to resume refused, the FAILED marker, file modes."""

from __future__ import annotations

import os

import pytest

from ftcore.errors import FtcoreError
from ftcore.train.run_folder import RunFolder, copy_readable, default_run_dir, write_readable


def test_an_existing_folder_is_refused_without_resume(tmp_path):
    run = RunFolder(tmp_path / "run")
    run.check(resume=False)
    run.create(resume=False)
    with pytest.raises(FtcoreError, match="never overwrites a run"):
        run.check(resume=False)
    with pytest.raises(FileExistsError):
        run.create(resume=False)


def test_resume_needs_a_started_run_and_refuses_a_finished_one(tmp_path):
    run = RunFolder(tmp_path / "run")
    with pytest.raises(FtcoreError, match="nothing to resume"):
        run.check(resume=True)
    run.create(resume=False)
    write_readable(run.config, "{}")
    write_readable(run.split, "{}")
    run.check(resume=True)
    write_readable(run.report, "{}")
    with pytest.raises(FtcoreError, match="already finished"):
        run.check(resume=True)
    run.mark_failed(RuntimeError("boom"))  # a refused run's report: resumable
    run.check(resume=True)


def test_failed_marker_says_why_and_resume_clears_it(tmp_path):
    run = RunFolder(tmp_path / "run")
    run.create(resume=False)
    run.mark_failed(ValueError("validation accuracy 0.2 is below 0.9\nmore detail"))
    text = run.failed.read_text()
    assert text.startswith("ftcore train stopped: validation accuracy 0.2 is below 0.9\n")
    assert "more detail" in text and "--resume" in text
    run.mark_failed(KeyboardInterrupt())
    assert run.failed.read_text().startswith("ftcore train stopped: interrupted\n")
    run.create(resume=True)
    assert not run.failed.exists()


def test_files_are_readable_as_the_umask_allows(tmp_path):
    old = os.umask(0o027)
    try:
        path = write_readable(tmp_path / "a.json", "{}")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_copies_are_readable_as_the_umask_allows(tmp_path, mask, mode):
    (tmp_path / "src.keras").write_bytes(b"x")
    old = os.umask(mask)
    try:
        path = copy_readable(tmp_path / "src.keras", tmp_path / "best.keras")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == mode and path.read_bytes() == b"x"


def test_default_run_dir_is_new_per_run():
    assert default_run_dir().parent.name == "ftcore-runs"
    assert default_run_dir().name.startswith("train-")
    with pytest.raises(AttributeError):
        RunFolder(default_run_dir()).nonsense  # noqa: B018
