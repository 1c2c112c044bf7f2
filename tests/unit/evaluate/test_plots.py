"""Each picture opened as a PNG: its size, not blank, several colours; the checker refusing a
blank or one-colour picture; the best-epoch mark present only when recorded."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ftcore import evaluate as ev
from ftcore.errors import FtcoreError
from tests.unit.evaluate.pictures import assert_picture, has_colour

pytest.importorskip("matplotlib", reason="the plots extra (matplotlib) is not installed")

RED = (214, 39, 40)  # matplotlib's tab:red, the best-epoch mark
STAGES = [
    (
        "head",
        {
            "loss": [1.2, 0.8, 0.7],
            "accuracy": [0.4, 0.6, 0.7],
            "val_loss": [1.0, 0.9, 0.85],
            "val_accuracy": [0.5, 0.55, 0.6],
        },
    ),
    (
        "fine-tune",
        {
            "loss": [0.5, 0.4],
            "accuracy": [0.8, 0.85],
            "val_loss": [0.6, 0.65],
            "val_accuracy": [0.7, 0.68],
        },
    ),
]


def _benchmark_report():
    path = Path(__file__).parents[3] / "benchmarks" / "report.py"
    spec = importlib.util.spec_from_file_location("bench_report", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_report", mod)  # dataclasses look their module up
    spec.loader.exec_module(sys.modules["bench_report"])
    return sys.modules["bench_report"]


def test_the_checker_refuses_blank_and_flat_pictures(tmp_path):
    Image.new("RGB", (60, 40), "white").save(tmp_path / "blank.png")
    with pytest.raises(AssertionError, match="looks blank"):
        assert_picture(tmp_path / "blank.png", (60, 40))
    halves = np.zeros((40, 60, 3), np.uint8)
    halves[:, 30:] = 255
    Image.fromarray(halves).save(tmp_path / "two.png")
    with pytest.raises(AssertionError, match="only 2 colours"):
        assert_picture(tmp_path / "two.png", (60, 40))
    with pytest.raises(AssertionError):
        assert_picture(tmp_path / "two.png", (61, 40))
    Image.fromarray(halves).save(tmp_path / "two.jpg")
    with pytest.raises(AssertionError, match="JPEG"):
        assert_picture(tmp_path / "two.jpg", (60, 40))


def test_confusion_matrix_png(tmp_path):
    cm = np.array([[50, 3, 0], [4, 30, 6], [0, 9, 20]])
    out = ev.plot_confusion_matrix(cm, ["cat", "dog", "fox"], tmp_path / "cm.png")
    assert out == tmp_path / "cm.png"
    side = int(100 * (4 + 0.5 * 3))
    assert_picture(out, (side + 100, side))
    assert sorted(os.listdir(tmp_path)) == ["cm.png"]  # no temporary left behind
    assert (out.stat().st_mode & 0o777) == 0o666 & ~_umask()


def test_learning_curves_png_marks_the_best_epoch(tmp_path):
    out = ev.plot_learning_curves(STAGES, tmp_path / "curves.png")
    rgb = assert_picture(out, (1200, 400))  # two panels: loss and accuracy
    assert has_colour(rgb, RED)
    plain = ev.plot_learning_curves(STAGES, tmp_path / "plain.png", monitor="val_auc")
    assert not has_colour(assert_picture(plain, (1200, 400)), RED)  # not recorded: no mark


def test_learning_curves_of_a_loss_only_history(tmp_path):
    out = ev.plot_learning_curves(
        [("only", {"loss": [3.0, 2.0, 1.5]})], tmp_path / "l.png", monitor="loss"
    )
    assert_picture(out, (600, 400))


def test_learning_curves_refuse_a_bad_history_and_write_nothing(tmp_path):
    with pytest.raises(ev.InvalidHistoryError, match="lengths"):
        ev.plot_learning_curves(
            [("s", {"loss": [1.0], "val_loss": [1.0, 2.0]})], tmp_path / "c.png"
        )
    assert list(tmp_path.iterdir()) == []


def test_benchmark_chart_takes_benchmarks_report_results(tmp_path):
    Result = _benchmark_report().Result
    results = [
        Result("MobileNetV2 1.0", p, "cpu", b, ips)
        for b, base in ((1, 40.0), (32, 300.0))
        for p, ips in (("frozen", base), ("restored", base * 0.7), ("tflite", base * 1.4))
    ] + [Result("MobileNetV2 0.35", "frozen", "cpu", 1, 150.0)]
    out = ev.plot_benchmark(results, tmp_path / "bench.png")
    assert_picture(out, (1000, 400))  # two panels
    with pytest.raises(FtcoreError, match="no benchmark results"):
        ev.plot_benchmark([], tmp_path / "empty.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.png"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_without_matplotlib_a_clear_error_names_the_extra(tmp_path, monkeypatch):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)  # what an absent package imports as
    with pytest.raises(ev.PlotsUnavailableError, match=r"pip install 'ftcore\[plots\]'"):
        ev.plot_confusion_matrix(np.eye(2, dtype=int), ["a", "b"], tmp_path / "cm.png")
    assert list(tmp_path.iterdir()) == []
    assert ev.evaluate_scores([0], [[1.0, 0.0]], ["a", "b"]).accuracy == 1.0  # metrics need none
