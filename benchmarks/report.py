"""Turn a saved pytest-benchmark JSON into a throughput table and a PNG bar chart (matplotlib,
the ``plots`` extra: :func:`ftcore.evaluate.plot_benchmark`).

One panel per model and device; per batch size, one bar per path (frozen, restored, and tflite
and onnxruntime when measured), labelled with images/s. ``--table`` prints a Markdown table
with the frozen/<path> ratios (and tflite/onnxruntime), for the README.

    $ python benchmarks/report.py .benchmarks/Linux-*/0001_run.json --output chart.png --table
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ftcore.errors import FtcoreError, InvalidFileError, MissingFileError

PATHS = ("frozen", "restored", "tflite", "onnxruntime")
#: The bar colour of each path in the chart: matplotlib's default cycle C0..C3 in PATHS order.
COLORS = {
    "frozen": (31, 119, 180),
    "restored": (255, 127, 14),
    "tflite": (44, 160, 44),
    "onnxruntime": (214, 39, 40),
}


@dataclass(frozen=True)
class Result:
    """One benchmark case: which model/path/device/batch, and its throughput."""

    model: str
    path: str
    device: str
    batch: int
    images_per_second: float


def read_results(path: str | os.PathLike) -> list[Result]:
    """The inference cases of a ``--benchmark-json`` / ``--benchmark-autosave`` file."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"no such benchmark file: {path}")
    try:
        data = json.loads(path.read_text())
        cases = data["benchmarks"]
    except (ValueError, KeyError, TypeError) as e:
        raise InvalidFileError(f"{path} is not a pytest-benchmark JSON file: {e}") from None
    results = []
    for case in cases:
        info = case.get("extra_info", {})
        if not {"model", "path", "device", "batch"} <= set(info):
            continue  # another benchmark (e.g. the feature cache)
        ips = info.get("images_per_second") or info["batch"] / case["stats"]["median"]
        results.append(
            Result(info["model"], info["path"], info["device"], int(info["batch"]), float(ips))
        )
    if not results:
        raise InvalidFileError(f"{path} holds no inference throughput results")
    return results


def _panels(results: Sequence[Result]) -> dict[tuple[str, str], dict[int, dict[str, float]]]:
    panels: dict = defaultdict(lambda: defaultdict(dict))
    for r in results:
        panels[(r.model, r.device)][r.batch][r.path] = r.images_per_second
    return panels


def markdown_table(results: Sequence[Result]) -> str:
    """Images/s per model, device, batch and path, with frozen/<path> ratios for the others."""
    paths = [p for p in PATHS if any(r.path == p for r in results)]
    others = [p for p in paths if p != "frozen"]
    pairs = [("frozen", p) for p in others]
    if {"tflite", "onnxruntime"} <= set(paths):  # the export paths against each other
        pairs.append(("tflite", "onnxruntime"))
    lines = [
        "| model | device | batch | "
        + " | ".join([f"{p} img/s" for p in paths] + [f"{a}/{b}" for a, b in pairs])
        + " |",
        "|---" * (3 + len(paths) + len(pairs)) + "|",
    ]
    for (model, device), batches in sorted(_panels(results).items()):
        for batch, by_path in sorted(batches.items()):
            cells = [f"{by_path[p]:.1f}" if p in by_path else "-" for p in paths]
            ratios = [
                f"{by_path[a] / by_path[b]:.2f}x" if {a, b} <= set(by_path) else "-"
                for a, b in pairs
            ]
            lines.append(f"| {model} | {device} | {batch} | " + " | ".join(cells + ratios) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/report.py", description=__doc__.split("\n")[0]
    )
    parser.add_argument("saved", help="pytest-benchmark JSON (--benchmark-json or autosave)")
    parser.add_argument("--output", metavar="PNG", help="write the bar chart here")
    parser.add_argument("--table", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    try:
        results = read_results(args.saved)
        if args.output:
            from ftcore.evaluate import plot_benchmark

            plot_benchmark(results, args.output)
            print(f"wrote {args.output}")
        if args.table or not args.output:
            print(markdown_table(results))
    except FtcoreError as e:
        print(f"report: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
