"""benchmarks/report.py: a saved pytest-benchmark JSON -> Markdown table and PNG bar chart."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from report import COLORS, PATHS, main, read_results

from ftcore.errors import InvalidFileError

MEDIANS = {("slim", "frozen"): 0.01, ("slim", "restored"): 0.02, ("keras", "frozen"): 0.04}


def saved_run(tmp_path, medians=MEDIANS):
    cases = [
        {
            "name": f"test_inference_throughput[{m}-cpu-{b}-{p}]",
            "stats": {"median": med * b},
            "extra_info": {"model": m, "path": p, "device": "cpu", "batch": b},
        }
        for (m, p), med in medians.items()
        for b in (1, 8)
    ] + [{"name": "test_feature_cache", "stats": {"median": 1.0}, "extra_info": {}}]
    path = tmp_path / "0001_run.json"
    path.write_text(json.dumps({"benchmarks": cases}))
    return path


def test_table_has_throughput_and_ratio(tmp_path, capsys):
    assert main([str(saved_run(tmp_path)), "--table"]) == 0
    out = capsys.readouterr().out
    assert "| slim | cpu | 8 | 100.0 | 50.0 | 2.00x |" in out
    assert "| keras | cpu | 1 | 25.0 | - | - |" in out
    assert len(read_results(saved_run(tmp_path))) == 6  # the feature-cache case is not inference


def test_table_adds_the_onnxruntime_ratio_when_measured(tmp_path, capsys):
    medians = {**MEDIANS, ("slim", "onnxruntime"): 0.008}
    assert main([str(saved_run(tmp_path, medians)), "--table"]) == 0
    out = capsys.readouterr().out
    assert "| frozen/restored | frozen/onnxruntime |" in out
    assert "| slim | cpu | 1 | 100.0 | 50.0 | 125.0 | 2.00x | 0.80x |" in out
    assert "| keras | cpu | 8 | 25.0 | - | - | - | - |" in out


def _longest_runs(mask: np.ndarray) -> np.ndarray:
    """Per pixel column, the longest vertical run of True (a bar; legend patches are short)."""
    cur = best = np.zeros(mask.shape[1], int)
    for row in mask:
        cur = (cur + 1) * row
        best = np.maximum(best, cur)
    return best


def test_chart_draws_one_bar_per_case_scaled_to_throughput(tmp_path):
    png = tmp_path / "chart.png"
    assert main([str(saved_run(tmp_path)), "--output", str(png)]) == 0
    with Image.open(png) as img:
        assert img.format == "PNG" and img.size == (1000, 400)  # plot_benchmark: 2 panels
        pixels = np.asarray(img.convert("RGB"))
    assert pixels.std() > 10  # not blank
    heights = {}
    for path, color in COLORS.items():
        runs = _longest_runs(np.all(pixels == color, axis=-1))
        heights[path] = sorted({int(h) for h in runs if h > 0})
    # slim: frozen 100 img/s is the panel's peak, restored 50 is half as tall
    assert heights["restored"] and heights["frozen"]
    assert max(heights["restored"]) == pytest.approx(max(heights["frozen"]) / 2, abs=2)
    assert heights["onnxruntime"] == [] and heights["tflite"] == []


def test_chart_colours_are_the_plotting_librarys_per_path():
    colors = pytest.importorskip("matplotlib.colors", reason="the plots extra is not installed")
    from ftcore.evaluate.plots import BENCH_PATHS

    assert tuple(COLORS) == PATHS == BENCH_PATHS
    for i, path in enumerate(PATHS):
        assert COLORS[path] == tuple(round(255 * c) for c in colors.to_rgb(f"C{i}"))


def test_bad_files_are_reported(tmp_path, capsys):
    (tmp_path / "x.json").write_text("[]")
    assert main([str(tmp_path / "x.json")]) == 1
    assert "not a pytest-benchmark JSON file" in capsys.readouterr().err
    with pytest.raises(InvalidFileError, match="no inference throughput results"):
        (tmp_path / "y.json").write_text('{"benchmarks": []}')
        read_results(tmp_path / "y.json")


def test_table_compares_the_export_paths_when_both_are_measured(tmp_path, capsys):
    medians = {**MEDIANS, ("slim", "onnxruntime"): 0.008, ("slim", "tflite"): 0.004}
    assert main([str(saved_run(tmp_path, medians)), "--table"]) == 0
    out = capsys.readouterr().out
    assert "| frozen/restored | frozen/tflite | frozen/onnxruntime | tflite/onnxruntime |" in out
    assert (
        "| slim | cpu | 8 | 100.0 | 50.0 | 250.0 | 125.0 | 2.00x | 0.40x | 0.80x | 2.00x |" in out
    )
