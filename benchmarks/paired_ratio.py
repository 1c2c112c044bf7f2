"""Throughput ratios measured *interleaved* (frozen call, restored call, onnxruntime call, ...),
so every path sees the same machine load: the fair ratio on a shared machine, complementing
pytest-benchmark's per-case figures. onnxruntime (on the same frozen graph, via tf2onnx, its
outputs checked against TF's first) joins when installed and on CPU.

    python benchmarks/paired_ratio.py --rounds 40
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mobilenet_224 import (  # noqa: E402
    MODELS,
    build_keras,
    build_slim,
    image_batch,
    make_predictor,
    onnx_missing,
)


def paired_rates(runs: dict, x: np.ndarray, rounds: int) -> dict[str, float]:
    """Median images/s of each of ``runs`` (name -> callable), calls alternating, after two
    warm-up calls each."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(2):
        for run in runs.values():
            run(x)
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run(x)
            times[name].append(time.perf_counter() - start)
    return {name: len(x) / np.median(t) for name, t in times.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rounds", type=int, default=40, help="rounds at batch 1 (fewer for larger)"
    )
    parser.add_argument("--batches", default="1,8,32")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    paths = ["frozen", "restored"]
    no_onnx = onnx_missing() if args.device == "cpu" else "onnxruntime runs on CPU only"
    if no_onnx:
        print(f"({no_onnx}: skipped)")
    else:
        paths.append("onnxruntime")
    root = Path(tempfile.mkdtemp(prefix="paired_ratio_"))
    others = [p for p in paths if p != "frozen"]
    print(
        "| model | batch | "
        + " | ".join(f"{p} img/s" for p in paths)
        + " | "
        + " | ".join(f"frozen/{p}" for p in others)
        + " |\n"
        + "|---" * (2 + len(paths) + len(others))
        + "|"
    )
    for model in args.models.split(","):
        (root / model).mkdir()
        built = (build_slim if model == "slim" else build_keras)(root / model)
        runs = {p: make_predictor(model, p, args.device, built) for p in paths}
        for batch in (int(b) for b in args.batches.split(",")):
            rounds = max(5, args.rounds // max(1, batch // 4))
            ips = paired_rates(runs, image_batch(batch), rounds)
            cells = [f"{ips[p]:.1f}" for p in paths]
            ratios = [f"{ips['frozen'] / ips[p]:.2f}x" for p in others]
            print(f"| {model} | {batch} | " + " | ".join(cells + ratios) + " |", flush=True)
        for run in runs.values():
            run.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
