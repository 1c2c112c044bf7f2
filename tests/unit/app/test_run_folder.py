"""Finding the files of a run folder of ``ftcore train`` (no TensorFlow): which model is its
best, where its images are, and the refusals."""

from __future__ import annotations

import json

import pytest

from ftcore.app.run_folder import FILES, find_run_files, is_run_folder
from ftcore.errors import InvalidFileError, MissingFileError


def make_run(root, *names, report=None):
    root.mkdir(parents=True)
    for name in names:
        (root / name).write_text("x")
    if report is not None:
        (root / "report.json").write_text(json.dumps(report))
    return root


@pytest.mark.parametrize(
    ("names", "best"),
    [
        (("best.keras", "model.pb", "model.tflite"), "model.pb"),
        (("best.keras", "model.tflite"), "model.tflite"),
        (("best.keras", "labels.txt"), "best.keras"),
    ],
)
def test_the_best_model_is_the_frozen_export_first(tmp_path, names, best):
    run = find_run_files(make_run(tmp_path / "run", "split.json", *names))
    assert run.best_model == tmp_path / "run" / best
    assert run.split == tmp_path / "run/split.json" and run.report is None and run.data_dir is None


def test_every_file_of_the_layout_is_found(tmp_path):
    root = make_run(tmp_path / "run", *[n for k, n in FILES.items() if k != "report"], report={})
    run = find_run_files(root)
    for field, name in FILES.items():
        assert getattr(run, field) == root / name


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        ({"data_dir": "/data/parts"}, "/data/parts"),
        ({"configuration": {"data_dir": "../images"}}, "RUN/../images"),
        ({"configuration": {"epochs": 3}}, None),
        ({"data_dir": ""}, None),
    ],
)
def test_the_image_folder_comes_from_the_report(tmp_path, report, expected):
    root = make_run(tmp_path / "run", "model.pb", report=report)
    found = find_run_files(root).data_dir
    assert (None if found is None else str(found).replace(str(root), "RUN")) == expected


def test_refusals(tmp_path):
    with pytest.raises(MissingFileError, match="no such run folder"):
        find_run_files(tmp_path / "nope")
    empty = find_run_files(make_run(tmp_path / "empty", "labels.txt"))
    with pytest.raises(MissingFileError, match="holds no model: expected one of model.pb"):
        _ = empty.best_model
    bad = make_run(tmp_path / "bad", "model.pb")
    (bad / "report.json").write_text("{not json")
    with pytest.raises(InvalidFileError, match="is not a run report"):
        find_run_files(bad)
    (bad / "report.json").write_text("[1, 2]")
    with pytest.raises(InvalidFileError, match="expected a JSON object"):
        find_run_files(bad)


def test_is_run_folder(tmp_path):
    assert is_run_folder(make_run(tmp_path / "a", "split.json"))
    assert not is_run_folder(make_run(tmp_path / "b", "labels.txt"))  # labels alone: no run
    assert not is_run_folder(tmp_path / "a/split.json") and not is_run_folder(tmp_path / "c")


def test_the_names_are_the_train_wings(tmp_path):
    from ftcore.train.run_folder import RunFolder

    run = RunFolder(tmp_path / "run")
    for field, attribute in (("keras", "best"), ("split", "split"), ("pb", "pb")):
        assert FILES[field] == getattr(run, attribute).name


def test_a_failed_run_is_refused_with_the_reason(tmp_path):
    from ftcore.app.run_folder import FailedRunError

    root = make_run(tmp_path / "run", "split.json", "best.keras")
    (root / "FAILED").write_text("ftcore train stopped: out of memory\n\nmore\n")
    with pytest.raises(
        FailedRunError, match=r"failed run .*FAILED: ftcore train stopped: out of memory\)"
    ):
        find_run_files(root)
