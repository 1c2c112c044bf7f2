"""``ftcore predict MODEL DIR --output predictions.csv`` on the real colour classifier: every
image under the folder (recursively) in the CSV, ranked as the predictor ranks each file on its
own; unreadable files listed with the reason and exit status 3; bounded batches; progress;
the CSV written atomically and readable as the umask allows."""

from __future__ import annotations

import csv
import io
import os
import stat

import pytest

from ftcore.app.predict_folder import image_files, predict_folder
from ftcore.app.progress import Progress
from ftcore.app.verb_predict import BAD_FILES_EXIT
from ftcore.predict import Predictor, load
from tests.unit.app.cli_run import cli
from tests.unit.app.colour_models import CLASSES, COLOURS, INTRUDER, save_png


def photo_folder(root):
    """Images at three depths, with a non-image file and a hidden one the scan leaves out."""
    save_png(root / "a.png", COLOURS["red"], 1)
    save_png(root / "day1/b.png", COLOURS["blue"], 2)
    save_png(root / "day1/deep/c.PNG", INTRUDER, 3)
    save_png(root / "day2/d.png", COLOURS["green"], 4)
    (root / "day2/readme.txt").write_text("not an image")
    save_png(root / ".thumbs/x.png", COLOURS["red"], 5)
    return root


def read_csv(path):
    return list(csv.reader(path.open(encoding="utf-8")))


@pytest.mark.parametrize("kind", ["pb", "tflite"])
def test_every_image_under_the_folder_is_one_row(colour_models, tmp_path, capsys, kind):
    model = getattr(colour_models, kind)
    folder, out = photo_folder(tmp_path / "photos"), tmp_path / "out/predictions.csv"
    code, stdout, err = cli(capsys, "predict", model, folder, "--output", out, "--top", 2)
    assert code == 0, err
    rows = read_csv(out)
    assert rows[0] == ["path", "class_1", "score_1", "class_2", "score_2"]
    paths = ["a.png", "day1/b.png", "day1/deep/c.PNG", "day2/d.png"]
    assert [r[0] for r in rows[1:]] == paths
    with load(model) as p:  # each file on its own, by the image-list path
        expected = p.top_k_images([folder / x for x in paths], k=2)
    for r, preds in zip(rows[1:], expected, strict=True):
        assert r[1::2] == [q.label for q in preds]
        assert [float(s) for s in r[2::2]] == pytest.approx([q.score for q in preds], rel=1e-5)
    assert [r[1] for r in rows[1:]] == ["red", "blue", "green", "green"]
    assert stdout.startswith(f"wrote 4 predictions to {out} ")
    assert f"predict {folder}: 4/4 (100%)" in err


def test_unreadable_files_are_listed_and_the_exit_status_says_so(colour_models, tmp_path, capsys):
    folder = photo_folder(tmp_path / "photos")
    (folder / "day1/empty.jpg").write_bytes(b"")
    (folder / "day2/notes.png").write_text("hello")
    (folder / "gone.png").symlink_to(folder / "nowhere.png")
    out = tmp_path / "predictions.csv"
    code, _, err = cli(capsys, "predict", colour_models.pb, folder, "--output", out)
    assert code == BAD_FILES_EXIT == 3
    assert [r[0] for r in read_csv(out)[1:]] == [
        "a.png",
        "day1/b.png",
        "day1/deep/c.PNG",
        "day2/d.png",
    ]
    lines = err.splitlines()
    at = lines.index(f"3 file(s) could not be read (not in {out}):")
    listed = lines[at + 1 :]
    assert listed[0] == "  day1/empty.jpg: is empty (0 bytes), expected an image file"
    assert listed[1].startswith("  day2/notes.png: is not an image in an accepted format")
    assert listed[2].startswith("  gone.png: no such file:")


def test_an_unreadable_file_by_permission(colour_models, tmp_path, capsys):
    if os.geteuid() == 0:
        pytest.skip("root reads every file: permissions cannot make one unreadable")
    folder = photo_folder(tmp_path / "photos")
    (folder / "a.png").chmod(0)
    code, _, err = cli(capsys, "predict", colour_models.pb, folder, "--output", tmp_path / "p.csv")
    assert code == BAD_FILES_EXIT and "a.png: cannot read" in err and "Permission denied" in err


def test_bad_folders_and_arguments_write_nothing(colour_models, tmp_path, capsys):
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "sub/readme.txt").write_text("x")
    photo = save_png(tmp_path / "one.png", COLOURS["red"], 0)
    folder = photo_folder(tmp_path / "photos")
    out = tmp_path / "p.csv"
    cases = [
        ((empty, "--output", out), f"{empty} holds no image files"),
        ((folder,), "needs --output FILE.csv"),
        ((folder, "--output", "Logits/Softmax"), "with a folder, --output names the CSV file"),
        ((empty, photo, "--output", out), "give one folder or image files, not both"),
    ]
    for argv, message in cases:
        code, _, err = cli(capsys, "predict", colour_models.pb, *argv)
        assert code == 1 and message in err.splitlines()[0], (argv, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "one.png", "photos"]


def test_the_csv_is_readable_as_the_umask_allows_and_no_temporary_is_left(colour_models, tmp_path):
    folder = photo_folder(tmp_path / "photos")
    out = tmp_path / "out" / "p.csv"
    old = os.umask(0o027)
    try:
        with load(colour_models.tflite) as p:
            predict_folder(p, image_files(folder), out, k=1)
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert [x.name for x in out.parent.iterdir()] == ["p.csv"]


def test_a_failing_model_leaves_no_csv(colour_models, tmp_path):
    folder = photo_folder(tmp_path / "photos")
    out = tmp_path / "p.csv"
    with load(colour_models.pb) as real:
        calls = []

        def run(x):
            calls.append(len(x))
            if len(calls) == 2:
                raise RuntimeError("the model broke on the second batch")
            return real(x)

        broken = Predictor("frozen", run, real.input_shape, real.labels, real.preprocessing)
        with pytest.raises(RuntimeError, match="second batch"):
            predict_folder(broken, image_files(folder), out, batch_size=2)
    assert list(tmp_path.iterdir()) == [folder]


def test_images_are_decoded_and_run_one_batch_at_a_time(colour_models, tmp_path):
    for i in range(11):
        save_png(tmp_path / "many" / f"{i:02}.png", COLOURS[CLASSES[i % 3]], i)
    with load(colour_models.pb) as real:
        sizes = []

        def run(x):
            sizes.append(len(x))
            return real(x)

        counted = Predictor("frozen", run, real.input_shape, real.labels, real.preprocessing)
        rows, bad = predict_folder(
            counted, image_files(tmp_path / "many"), tmp_path / "p.csv", batch_size=4
        )
    assert (rows, bad, sizes) == (11, [], [4, 4, 3])


def test_progress_one_line_per_update_off_a_terminal_and_in_place_on_one():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    log, tty = io.StringIO(), Terminal()
    for stream in (log, tty):
        bar = Progress(100, "images", stream=stream, step=0.25)
        for _ in range(10):
            bar.update(10)
    assert log.getvalue().splitlines() == [f"images: {n}/100 ({n}%)" for n in (30, 50, 80, 100)]
    assert tty.getvalue().count("\r") == 10 and tty.getvalue().endswith("images: 100/100 (100%)\n")
