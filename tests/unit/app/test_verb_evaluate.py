"""``ftcore evaluate`` on the real colour classifier (.keras, .pb, .tflite) and real PNG folders:
the report folder, the printed summary, two models side by side, a run folder on its own split,
and every bad input refused with its exit status and message, nothing written."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from ftcore.data import load_folder, make_split, write_split
from ftcore.predict import load
from tests.unit.app.cli_run import cli, row
from tests.unit.app.colour_models import CLASSES, COLOURS, colour_folder, save_png
from tests.unit.evaluate.pictures import assert_picture

pytest.importorskip("matplotlib", reason="the plots extra (matplotlib) is not installed")

CONFUSION_PNG = (650, 550)  # plot_confusion_matrix's figure for 3 classes at 100 dpi
EXPECTED_CM = [[4, 0, 0], [0, 4, 0], [0, 1, 4]]  # rows true, cols predicted: the intruder


def test_report_folder_summary_and_pictures(colour_models, tmp_path, capsys):
    data = colour_folder(tmp_path / "data")
    out = tmp_path / "eval"
    code, stdout, err = cli(
        capsys, "evaluate", colour_models.pb, data, "--output", out, "--top-k", 2
    )
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())
    m = report["models"]["model.pb"]
    assert m["examples"] == 13 and m["accuracy"] == pytest.approx(12 / 13)
    assert m["top_k_accuracy"] == {"2": 1.0}  # the intruder's second class is red
    assert m["confusion_matrix"] == {"classes": CLASSES, "rows_true_cols_predicted": EXPECTED_CM}
    assert m["per_class"]["green"]["precision"] == pytest.approx(0.8)
    assert m["per_class"]["red"]["recall"] == pytest.approx(0.8)
    with load(colour_models.pb) as p:  # the confidence, from the predictor on its own
        green = float(p.predict_images([data / "red/intruder.png"])[0, 1])
    rows = list(csv.reader((out / "misclassified.csv").open()))
    assert rows[0] == ["path", "true", "predicted", "confidence"]
    assert rows[1][:3] == ["red/intruder.png", "red", "green"] and len(rows) == 2
    assert float(rows[1][3]) == pytest.approx(green, rel=1e-5)
    assert_picture(out / "confusion-model.pb.png", CONFUSION_PNG)
    assert (
        "![confusion matrix of model.pb](confusion-model.pb.png)" in (out / "report.md").read_text()
    )
    assert stdout.splitlines()[0] == f"13 images, 3 classes (folder {data})"
    # F1: blue 1, green 2*0.8*1/1.8 = 0.889, red 2*1*0.8/1.8 = 0.889; macro (1 + 2*0.889)/3,
    # weighted by support 4, 4, 5: (4 + 9*0.889)/13
    assert row(stdout, "model.pb", "92.3%", "100.0%", "0.926", "0.923")
    assert "most confused, model.pb (true -> predicted): red -> green (1)" in stdout
    assert "evaluate: images: 13/13 (100%)" in err  # progress, one line when not a TTY


def test_two_models_side_by_side_with_their_agreement(colour_models, tmp_path, capsys):
    data = colour_folder(tmp_path / "data")
    out = tmp_path / "eval"
    argv = ["evaluate", colour_models.pb, data, "--model2", colour_models.tflite, "--output", out]
    code, stdout, err = cli(capsys, *argv)
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())
    assert list(report["models"]) == ["model.pb", "model.tflite"]
    [pair] = report["agreement"]
    assert pair["agreement"] == 1.0 and pair["both_right"] == 12 and pair["both_wrong"] == 1
    for name in ("model.pb", "model.tflite"):
        assert_picture(out / f"confusion-{name}.png", CONFUSION_PNG)
        assert (out / f"misclassified-{name}.csv").read_text().count("\n") == 2
    assert row(stdout, "model.tflite", "92.3%")
    assert "agreement model.pb vs model.tflite: 100.0% of the images" in stdout


def test_a_keras_model_needs_labels_and_a_labels_file_gives_them(colour_models, tmp_path, capsys):
    data = colour_folder(tmp_path / "data")
    code, _, err = cli(capsys, "evaluate", colour_models.keras, data, "--output", tmp_path / "e")
    assert code == 1 and "model.keras has no class labels (a .keras file holds none)" in err
    assert "pass --labels FILE" in err
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(CLASSES) + "\n")
    argv = ["evaluate", colour_models.keras, data, "--labels", labels, "--output", tmp_path / "e"]
    code, stdout, err = cli(capsys, *argv)
    assert code == 0, err
    assert row(stdout, "model.keras", "92.3%")


def test_a_folder_with_classes_in_another_order_is_judged_by_name(colour_models, tmp_path, capsys):
    """Class ids follow the model's labels; a folder's own sorted order is not imposed."""
    data = tmp_path / "data"
    for name in CLASSES:
        save_png(data / name / "0.png", COLOURS[name], seed=1)
    labels = tmp_path / "labels.txt"
    labels.write_text("red\nblue\ngreen\n")  # wrong on purpose: swaps what the outputs mean
    argv = ["evaluate", colour_models.pb, data, "--labels", labels, "--output", tmp_path / "e"]
    code, stdout, err = cli(capsys, *argv)
    assert code == 0, err
    report = json.loads((tmp_path / "e/report.json").read_text())["models"]["model.pb"]
    assert report["confusion_matrix"]["classes"] == ["red", "blue", "green"]
    assert report["accuracy"] == 0.0  # every image lands on the class its output index names


def run_folder(root, models, data, validation=0.5):
    """A run folder laid out as ftcore train writes it (split.json over ``data``)."""
    root.mkdir()
    folder = load_folder(data)
    write_split(root / "split.json", make_split(folder.files, folder.class_names, validation))
    for src, name in ((models.keras, "best.keras"), (models.pb, "model.pb")):
        shutil.copy(src, root / name)
    shutil.copy(f"{models.pb}.json", root / "model.pb.json")
    (root / "labels.txt").write_text("\n".join(CLASSES) + "\n")
    (root / "report.json").write_text(json.dumps({"configuration": {"data_dir": str(data)}}))
    return root


def test_a_run_folder_is_judged_on_its_own_validation_split(colour_models, tmp_path, capsys):
    data = colour_folder(tmp_path / "data", per_class=4, intruder=False)
    run = run_folder(tmp_path / "run", colour_models, data)
    code, stdout, err = cli(capsys, "evaluate", run)
    assert code == 0, err
    report = json.loads((run / "evaluation/report.json").read_text())
    assert report["title"] == f"Evaluation on the validation split of {run}"
    assert report["models"]["model.pb"]["examples"] == 6  # half of each class's 4
    assert stdout.splitlines()[0] == f"6 images, 3 classes (the validation split of {run})"
    code, _, err = cli(capsys, "evaluate", run, "--split", "test")
    assert code == 1 and "the test split of" in err and "has no files" in err
    (data / "blue/0.png").unlink()  # the split no longer matches its folder
    code, _, err = cli(capsys, "evaluate", run, "--output", tmp_path / "e2")
    assert code == 1 and "no longer matches the folder" in err and "missing: blue/0.png" in err
    assert not (tmp_path / "e2").exists()


def test_a_class_name_mismatch_names_both_lists_and_writes_nothing(colour_models, tmp_path, capsys):
    data = colour_folder(tmp_path / "data", per_class=1, intruder=False)
    (data / "red").rename(data / "rde")
    out = tmp_path / "eval"
    code, _, err = cli(capsys, "evaluate", colour_models.pb, data, "--output", out)
    assert code == 1
    first = err.splitlines()[0]
    assert first.startswith("ftcore evaluate: error: the class names of the data")
    assert "['blue', 'green', 'rde']" in first and "['blue', 'green', 'red']" in first
    assert "'rde' (closest: 'red')" in first
    assert not out.exists()


def test_a_tflite_without_labels_says_so_and_how_to_fix_it(colour_models, tmp_path, capsys):
    data = colour_folder(tmp_path / "data", per_class=1, intruder=False)
    out = tmp_path / "eval"
    code, _, err = cli(capsys, "evaluate", colour_models.bare_tflite, data, "--output", out)
    assert code == 1 and not out.exists()
    assert "bare.tflite has no class labels (no sidecar bare.tflite.json with labels" in err
    assert "pass --labels FILE" in err
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(CLASSES))
    argv = ["evaluate", colour_models.bare_tflite, data, "--labels", labels, "--output", out]
    assert cli(capsys, *argv)[0] == 0 and (out / "report.json").is_file()


def test_labels_that_do_not_fit_the_outputs_are_refused(colour_models, tmp_path, capsys):
    data = tmp_path / "data"
    for name in ("blue", "green"):
        save_png(data / name / "0.png", COLOURS[name], 0)
    labels = tmp_path / "two.txt"
    labels.write_text("blue\ngreen\n")
    argv = ["evaluate", colour_models.pb, data, "--labels", labels, "--output", tmp_path / "e"]
    code, _, err = cli(capsys, *argv)
    assert code == 1 and not (tmp_path / "e").exists()
    assert "model model.pb has 3 outputs but 2 labels ['blue', 'green']" in err


def bad_folder(tmp_path):
    data = colour_folder(tmp_path / "data", per_class=2, intruder=False)
    (data / "red/empty.png").write_bytes(b"")
    (data / "blue/notes.jpg").write_text("not an image")
    return data


def test_bad_images_stop_with_the_list_by_default(colour_models, tmp_path, capsys):
    data, out = bad_folder(tmp_path), tmp_path / "eval"
    code, _, err = cli(capsys, "evaluate", colour_models.pb, data, "--output", out)
    assert code == 1 and not out.exists()
    assert (
        err.splitlines()[0]
        == "ftcore evaluate: error: 2 bad image files (fix or remove them, or pass --skip-bad to leave them out):"
    )
    assert "  blue/notes.jpg: is not an image in an accepted format" in err
    assert "  red/empty.png: is empty (0 bytes), expected an image" in err


def test_skip_bad_goes_on_and_lists_them_in_the_report(colour_models, tmp_path, capsys):
    data, out = bad_folder(tmp_path), tmp_path / "eval"
    code, stdout, err = cli(
        capsys, "evaluate", colour_models.pb, data, "--skip-bad", "--output", out
    )
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())
    assert report["models"]["model.pb"]["examples"] == 6
    assert [s["path"] for s in report["skipped"]] == ["blue/notes.jpg", "red/empty.png"]
    md = (out / "report.md").read_text()
    assert "## Skipped files (2, not judged)" in md and "- `red/empty.png`: is empty" in md
    assert "2 bad image file(s) skipped" in stdout


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ("empty", "has no class subfolders"),
        ("one_class", "not in the data"),  # one class of the model's three: a name mismatch
        ("no_images", "has no image files"),
    ],
)
def test_empty_data_is_refused(colour_models, tmp_path, capsys, layout, message):
    data = tmp_path / "data"
    data.mkdir()
    if layout == "one_class":
        save_png(data / "red/0.png", COLOURS["red"], 0)
    if layout == "no_images":
        for name in CLASSES:
            save_png(data / name / "0.png", COLOURS[name], 0)
        (data / "green/0.png").unlink()
    code, _, err = cli(capsys, "evaluate", colour_models.pb, data, "--output", tmp_path / "e")
    assert code == 1 and message in err.splitlines()[0]
    assert not (tmp_path / "e").exists()


def test_argument_errors(colour_models, tmp_path, capsys):
    data = colour_folder(tmp_path / "data", per_class=1, intruder=False)
    cases = [
        ((colour_models.pb,), "give DATA, a folder of class subfolders"),
        ((colour_models.pb, data, "--split", "test"), "--split needs a run folder"),
        ((colour_models.pb, data, "--top-k", "0"), "--top-k must be at least 1"),
        ((tmp_path / "nope.pb", data), "no such file or directory"),
    ]
    for argv, message in cases:
        code, _, err = cli(capsys, "evaluate", *argv, "--output", tmp_path / "e")
        assert code == 1 and message in err, (argv, err)
    assert not (tmp_path / "e").exists()


def test_two_models_with_other_labels_are_refused(colour_models, tmp_path, capsys):
    data = colour_folder(tmp_path / "data", per_class=1, intruder=False)
    other = tmp_path / "other.tflite"
    shutil.copy(colour_models.tflite, other)
    sidecar = json.loads(colour_models.tflite.with_suffix(".tflite.json").read_text())
    sidecar["labels"] = ["cyan", "green", "red"]
    other.with_suffix(".tflite.json").write_text(json.dumps(sidecar))
    argv = ["evaluate", colour_models.pb, data, "--model2", other, "--output", tmp_path / "e"]
    code, _, err = cli(capsys, *argv)
    assert code == 1 and "['cyan', 'green', 'red']" in err and "['blue', 'green', 'red']" in err
    assert not (tmp_path / "e").exists()


def test_a_run_folder_with_data_judges_the_folder_or_with_split_its_split(
    colour_models, tmp_path, capsys
):
    data = colour_folder(tmp_path / "data", per_class=4, intruder=False)
    run = run_folder(tmp_path / "run", colour_models, data)
    (run / "report.json").write_text("{}")  # no data_dir: the images must be given
    code, _, err = cli(capsys, "evaluate", run, "--output", tmp_path / "e")
    assert code == 1 and "does not say where the images are (data_dir): pass DATA" in err
    moved = shutil.copytree(data, tmp_path / "moved")
    code, stdout, err = cli(
        capsys, "evaluate", run, moved, "--split", "validation", "--output", tmp_path / "e"
    )
    assert code == 0, err
    assert stdout.splitlines()[0] == f"6 images, 3 classes (the validation split of {run})"
    code, stdout, err = cli(capsys, "evaluate", run, moved, "--output", tmp_path / "e")
    assert code == 0, err
    assert stdout.splitlines()[0] == f"12 images, 3 classes (folder {moved})"
    assert (
        json.loads((tmp_path / "e/report.json").read_text())["models"]["model.pb"]["accuracy"]
        == 1.0
    )


def test_a_run_with_only_best_keras_uses_its_labels_and_preprocessing(
    colour_models, tmp_path, capsys
):
    data = colour_folder(tmp_path / "data", per_class=2)
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(colour_models.keras, run / "best.keras")
    (run / "labels.txt").write_text("\n".join(CLASSES) + "\n")
    (run / "report.json").write_text(json.dumps({"configuration": {"preprocessing": "unit"}}))
    code, stdout, err = cli(capsys, "evaluate", run, data, "--output", tmp_path / "e")
    assert code == 0, err
    assert row(stdout, "best.keras", "85.7%")  # 6 of 7: the intruder
    [_, wrong] = list(csv.reader((tmp_path / "e/misclassified.csv").open()))
    scores = {}
    for preprocessing in ("unit", "mobilenet"):
        with load(run / "best.keras", preprocessing=preprocessing) as p:
            scores[preprocessing] = float(p.predict_images([data / wrong[0]])[0, 1])
    assert float(wrong[3]) == pytest.approx(scores["unit"], rel=1e-5)
    assert abs(scores["unit"] - scores["mobilenet"]) > 0.05  # the convention changes the score


def test_images_stream_in_batches_decoded_once_for_models_that_share_their_input(
    colour_models, tmp_path
):
    from ftcore.app import evaluate_models as em
    from ftcore.predict import Predictor

    data = colour_folder(tmp_path / "data")  # 13 images
    sizes = {"pb": [], "tflite": []}
    with load(colour_models.pb) as pb, load(colour_models.tflite) as tfl:
        counted = {
            name: Predictor(
                name,
                lambda x, r=real, n=name: sizes[n].append(len(x)) or r(x),
                real.input_shape,
                real.labels,
                real.preprocessing,
            )
            for name, real in (("pb", pb), ("tflite", tfl))
        }
        assert list(em.passes(counted).values()) == [["pb", "tflite"]]  # one decoding pass
        labelled = em.labelled_folder(data, CLASSES, skip_bad=False)
        scores = em.score(counted, labelled, batch_size=4)
    assert sizes == {"pb": [4, 4, 4, 1], "tflite": [4, 4, 4, 1]}
    assert scores["pb"].shape == (13, 3)


def test_a_failed_run_folder_is_refused_naming_why(colour_models, tmp_path, capsys):
    from ftcore.train.run_folder import RunFolder

    data = colour_folder(tmp_path / "data", per_class=4, intruder=False)
    run = RunFolder(run_folder(tmp_path / "run", colour_models, data))
    run.mark_failed(ValueError("validation accuracy 0.2 is below 0.9"))
    code, _, err = cli(capsys, "evaluate", run.path, "--output", tmp_path / "e")
    assert code == 1 and "is a failed run" in err, err
    assert "ftcore train stopped: validation accuracy 0.2 is below 0.9" in err
    assert not (tmp_path / "e").exists() and not (run.path / "evaluation").exists()
    run.create(resume=True)  # a resumed run clears the marker: judged again
    assert cli(capsys, "evaluate", run.path, "--output", tmp_path / "e")[0] == 0
