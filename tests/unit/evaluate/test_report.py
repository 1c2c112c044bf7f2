"""The report folder: report.json, report.md with its pictures, the misclassified CSV; two
models side by side with their agreement; class names checked; nothing written on failure."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest

from ftcore import evaluate as ev
from ftcore.errors import MismatchError
from tests.unit.evaluate.pictures import assert_picture
from tests.unit.evaluate.test_plots import STAGES

pytest.importorskip("matplotlib", reason="the plots extra (matplotlib) is not installed")

NAMES = ["cat", "dog", "fox"]
Y = np.array([0, 0, 1, 1, 2, 2, 2])
PATHS = [f'data/{NAMES[t]}/{i}, odd "name".png' for i, t in enumerate(Y)]  # CSV quoting


def _scores(pred, conf=0.8):
    s = np.full((len(pred), 3), (1 - conf) / 2)
    s[np.arange(len(pred)), pred] = conf
    return s


FLOAT = ev.evaluate_scores(Y, _scores([0, 1, 1, 1, 2, 1, 2]), NAMES, PATHS, ks=(2,))
INT8 = ev.evaluate_scores(Y, _scores([0, 1, 1, 0, 2, 1, 1], 0.6), NAMES, PATHS, ks=(2,))


def _mode():
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def test_one_model_report(tmp_path):
    out = ev.write_report(tmp_path, {"float": FLOAT}, stages=STAGES, title="demo model")
    names = [
        "confusion-float.png",
        "learning_curves.png",
        "misclassified.csv",
        "report.json",
        "report.md",
    ]
    assert sorted(out) == names and sorted(os.listdir(tmp_path)) == names  # no temporaries
    assert all((p.stat().st_mode & 0o777) == _mode() for p in out.values())
    report = json.loads(out["report.json"].read_text())
    m = report["models"]["float"]
    assert m["accuracy"] == pytest.approx(5 / 7) and m["misclassified"] == 2
    assert m["per_class"]["fox"]["recall"] == pytest.approx(2 / 3)
    assert m["confusion_matrix"]["rows_true_cols_predicted"] == [[1, 1, 0], [0, 2, 0], [0, 1, 2]]
    assert m["most_confused"] == [["cat", "dog", 1], ["fox", "dog", 1]]
    assert m["files"] == {"png": "confusion-float.png", "csv": "misclassified.csv"}
    assert report["agreement"] == [] and report["learning_curves"] == "learning_curves.png"
    rows = list(csv.reader(out["misclassified.csv"].open()))
    assert rows == [
        ["path", "true", "predicted", "confidence"],
        [PATHS[1], "cat", "dog", "0.8"],
        [PATHS[5], "fox", "dog", "0.8"],
    ]
    md = out["report.md"].read_text()
    assert md.startswith("# demo model\n\n7 examples.\n")
    assert "| float | 71.4% | 85.7% |" in md  # accuracy, top-2
    assert "| fox | 0.667 | 0.667 | 0.667 | 3 |" not in md  # fox precision is 1.0
    assert "| fox | 1.000 | 0.667 | 0.800 | 3 |" in md
    assert "Most confused (true -> predicted): cat -> dog (1), fox -> dog (1)." in md
    for png in ("confusion-float.png", "learning_curves.png"):
        assert f"]({png})" in md
    assert_picture(out["confusion-float.png"], (650, 550))
    assert_picture(out["learning_curves.png"], (1200, 400))


def test_two_models_side_by_side_with_agreement(tmp_path):
    out = ev.write_report(tmp_path, {"float": FLOAT, "int8 tflite": INT8})
    assert {
        "misclassified-float.csv",
        "misclassified-int8_tflite.csv",
        "confusion-int8_tflite.png",
    } <= set(out)
    report = json.loads(out["report.json"].read_text())
    assert report["agreement"] == [
        {
            "a": "float",
            "b": "int8 tflite",
            "agreement": pytest.approx(5 / 7),
            "both_right": 3,
            "only_a_right": 2,
            "only_b_right": 0,
            "both_wrong": 2,
        }
    ]
    md = out["report.md"].read_text()
    assert "**float vs int8 tflite**: agree on 71.4% of the examples" in md
    assert "## float" in md and "## int8 tflite" in md
    assert len(list(csv.reader(out["misclassified-int8_tflite.csv"].open()))) == 1 + 4


def test_class_names_mismatch_names_both_lists_and_writes_nothing(tmp_path):
    other = ev.evaluate_scores(Y, _scores(Y), ["cat", "dog", "wolf"], PATHS)
    with pytest.raises(ev.ClassNamesMismatchError) as e:
        ev.write_report(tmp_path, {"float": FLOAT, "other": other})
    assert str(e.value) == (
        "the class names of model 'other' ['cat', 'dog', 'wolf'] are not the labels of 'float' "
        "['cat', 'dog', 'fox']: not in 'float': 'wolf'; not in model 'other': 'fox'"
    )
    assert isinstance(e.value, MismatchError)
    assert list(tmp_path.iterdir()) == []


def test_models_judged_on_other_examples_refused(tmp_path):
    fewer = ev.evaluate_scores(Y[:6], _scores(Y[:6]), NAMES)
    with pytest.raises(MismatchError, match="judged on other examples than 'float' .6 vs 7"):
        ev.write_report(tmp_path, {"float": FLOAT, "fewer": fewer})
    shuffled = ev.evaluate_scores(Y[::-1], _scores(Y), NAMES)
    with pytest.raises(MismatchError, match="other true classes"):
        ev.write_report(tmp_path, {"float": FLOAT, "shuffled": shuffled})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("evaluations", "message"),
    [
        ({}, "at least one evaluation"),
        ({"..": FLOAT}, "model name '..' gives no usable file name"),
        ({"a b": FLOAT, "a/b": FLOAT}, "give clashing file names"),
    ],
)
def test_bad_model_names_refused(tmp_path, evaluations, message):
    with pytest.raises(MismatchError, match=message):
        ev.write_report(tmp_path, evaluations)
    assert list(tmp_path.iterdir()) == []


def test_a_bad_history_writes_nothing(tmp_path):
    with pytest.raises(ev.InvalidHistoryError):
        ev.write_report(tmp_path, {"float": FLOAT}, stages=[("s", {"loss": []})])
    assert list(tmp_path.iterdir()) == []


def test_a_rewrite_replaces_the_report(tmp_path):
    ev.write_report(tmp_path, {"float": FLOAT})
    ev.write_report(tmp_path, {"int8": INT8})
    report = json.loads((tmp_path / "report.json").read_text())
    assert list(report["models"]) == ["int8"]


def test_check_class_names():
    assert ev.check_class_names(("a", "b"), ["a", "b"]) == ["a", "b"]
    with pytest.raises(
        ev.ClassNamesMismatchError,
        match=r"the data \['b', 'a'\] are not the labels of the "
        r"model \['a', 'b'\]: same names in another order",
    ):
        ev.check_class_names(["b", "a"], ["a", "b"])
    with pytest.raises(ev.ClassNamesMismatchError, match="not in the data: 'c'; a list repeats"):
        ev.check_class_names(["a", "a"], ["a", "c"])
    with pytest.raises(ev.ClassNamesMismatchError, match=r"not in the model: 'zebra'$"):
        ev.check_class_names(["a", "zebra"], ["a"])
    with pytest.raises(
        ev.ClassNamesMismatchError, match=r"not in the model: 'dgo' .closest: 'dog'"
    ):
        ev.check_class_names(["cat", "dgo"], ["cat", "dog"])


def test_markdown_tables_survive_a_pipe_in_a_name(tmp_path):
    e = ev.evaluate_scores([0, 1], [[0.9, 0.1], [0.2, 0.8]], ["a|b", "c\nd"])
    md = ev.write_report(tmp_path, {"x|y": e})["report.md"].read_text()
    assert "| x\\|y | 100.0% |" in md
    assert "| a\\|b | 1.000 |" in md and "| c d | 1.000 |" in md


def test_skipped_files_are_listed_in_both_reports(tmp_path):
    skipped = [("data/cat/empty.png", "is empty (0 bytes)"), ("data/dog/x.jpg", "a | b\nc")]
    out = ev.write_report(tmp_path, {"float": FLOAT}, skipped=skipped)
    report = json.loads(out["report.json"].read_text())
    assert report["skipped"] == [
        {"path": "data/cat/empty.png", "reason": "is empty (0 bytes)"},
        {"path": "data/dog/x.jpg", "reason": "a | b\nc"},
    ]
    md = out["report.md"].read_text()
    assert "## Skipped files (2, not judged)" in md
    assert "- `data/cat/empty.png`: is empty (0 bytes)\n- `data/dog/x.jpg`: a \\| b c\n" in md
    none = ev.write_report(tmp_path / "none", {"float": FLOAT})
    assert json.loads(none["report.json"].read_text())["skipped"] == []
    assert "Skipped" not in none["report.md"].read_text()
