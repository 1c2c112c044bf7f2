"""PNG pictures drawn with matplotlib (the ``plots`` extra; Agg canvas, no display needed).

>>> import tempfile, pathlib, numpy as np
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> plot_confusion_matrix(np.array([[9, 0], [1, 0]]), ["ok", "defect"], out / "cm.png").name
'cm.png'
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ftcore import atomic
from ftcore.errors import FtcoreError
from ftcore.evaluate.history import StageHistory, best_epoch, history

BENCH_PATHS = ("frozen", "restored", "tflite", "onnxruntime")  # benchmarks/report.py's order
DPI = 100


class PlotsUnavailableError(FtcoreError, ImportError):
    """matplotlib (the ``plots`` extra) is not installed."""


def _figure(width: float, height: float):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise PlotsUnavailableError(
            f"drawing pictures needs matplotlib ({e}); install it: pip install 'ftcore[plots]'"
        ) from None
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)  # attaches itself: no pyplot, no display
    return fig


def _umask_mode() -> int:
    """``0o666`` less the process umask: the mode a plainly created file gets."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _save(fig, path: str | os.PathLike) -> Path:
    """Write ``fig`` as a PNG atomically, readable as the umask allows (the temporary
    ``atomic_path`` makes is mode 0600)."""
    fig.tight_layout()
    with atomic.atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
        tmp.chmod(_umask_mode())
    return Path(path)


def plot_confusion_matrix(
    cm, class_names: Sequence[str], path: str | os.PathLike, title: str = "confusion matrix"
) -> Path:
    """Counts per (true row, predicted column), shaded by the fraction of the true class."""
    cm = np.asarray(cm)
    n = len(class_names)
    rows = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros(cm.shape), where=rows != 0)
    side = min(4 + 0.5 * n, 20)
    fig = _figure(side + 1, side)
    ax = fig.add_subplot()
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, label="fraction of the true class")
    ax.set(xticks=range(n), yticks=range(n), xlabel="predicted", ylabel="true", title=title)
    ax.set_xticklabels(class_names, rotation=45, ha="right")
    ax.set_yticklabels(class_names)
    if n <= 30:
        for t in range(n):
            for p in range(n):
                color = "white" if frac[t, p] > 0.5 else "black"
                ax.text(p, t, str(cm[t, p]), ha="center", va="center", color=color, fontsize=8)
    return _save(fig, path)


def plot_learning_curves(
    stages: Sequence,
    path: str | os.PathLike,
    monitor: str = "val_loss",
    mode: str = "min",
) -> Path:
    """Loss and accuracy per epoch over all stages (train solid, validation dashed), with
    each stage boundary and the best epoch by ``monitor`` marked (skipped if not recorded)."""
    stages: list[StageHistory] = history(stages)
    recorded = {m for s in stages for m in s.metrics}
    panels = [m for m in ("loss", "accuracy") if m in recorded or f"val_{m}" in recorded]
    panels = panels or sorted(m for m in recorded if not m.startswith("val_"))[:2]
    best = best_epoch(stages, monitor, mode) if monitor in recorded else None
    fig = _figure(6 * len(panels), 4)
    starts = np.cumsum([0] + [s.epochs for s in stages])
    for k, metric in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        for name, style in ((metric, "-"), (f"val_{metric}", "--")):
            xs, ys = [], []
            for s, start in zip(stages, starts[:-1], strict=True):
                if name in s.metrics:
                    xs += list(range(start + 1, start + s.epochs + 1))
                    ys += s.metrics[name]
            if xs:
                ax.plot(xs, ys, style, marker="o", markersize=3, label=name)
        for s, start in zip(stages, starts[:-1], strict=True):
            if start:
                ax.axvline(start + 0.5, color="grey", linestyle=":")
            ax.text(start + 1, 1.0, s.name, transform=ax.get_xaxis_transform(), va="bottom")
        if best is not None:
            ax.axvline(best[0] + 1, color="tab:red", alpha=0.6)
            ax.plot([], [], color="tab:red", label=f"best {monitor}: epoch {best[0] + 1}")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set(xlabel="epoch (all stages)", ylabel=metric)
        ax.legend(fontsize=8)
    return _save(fig, path)


def plot_benchmark(
    results: Sequence, path: str | os.PathLike, title: str = "images/s (higher is better)"
) -> Path:
    """Grouped bars like ``benchmarks/report.py``'s chart: one panel per (model, device),
    groups by batch, one bar per path, labelled with images/s. ``results`` have ``model``,
    ``path``, ``device``, ``batch`` and ``images_per_second`` (e.g. its ``Result``)."""
    panels: dict = defaultdict(lambda: defaultdict(dict))
    for r in results:
        panels[(r.model, r.device)][int(r.batch)][r.path] = float(r.images_per_second)
    if not panels:
        raise FtcoreError("no benchmark results to draw")
    seen = {r.path for r in results}
    paths = [p for p in BENCH_PATHS if p in seen] + sorted(seen - set(BENCH_PATHS))
    fig = _figure(5 * len(panels), 4)
    width = 0.8 / len(paths)
    for k, ((model, device), batches) in enumerate(sorted(panels.items())):
        ax = fig.add_subplot(1, len(panels), k + 1)
        for j, p in enumerate(paths):
            xs = [g for g, b in enumerate(sorted(batches)) if p in batches[b]]
            ys = [batches[b][p] for b in sorted(batches) if p in batches[b]]
            bars = ax.bar(
                [x - 0.4 + (j + 0.5) * width for x in xs],
                ys,
                width,
                label=p,
                color=f"C{BENCH_PATHS.index(p) if p in BENCH_PATHS else j}",
            )
            ax.bar_label(bars, fmt="%.0f", fontsize=7)
        ax.set_xticks(range(len(batches)), [f"batch {b}" for b in sorted(batches)])
        ax.set(title=f"{model} ({device})", ylabel="images/s")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return _save(fig, path)
