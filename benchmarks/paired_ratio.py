"""Frozen/restored throughput ratios measured *interleaved* (frozen call, restored call, ...),
so both paths see the same machine load: the fair ratio on a shared machine, complementing
pytest-benchmark's per-case figures.

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
from mobilenet_224 import MODELS, build_keras, build_slim, image_batch, make_predictor  # noqa: E402


def paired_rates(frozen, restored, x: np.ndarray, rounds: int) -> tuple[float, float]:
    """Median images/s of each path, calls alternating, after two warm-up calls each."""
    times: dict[str, list[float]] = {"frozen": [], "restored": []}
    for _ in range(2):
        frozen(x), restored(x)
    for _ in range(rounds):
        for name, run in (("frozen", frozen), ("restored", restored)):
            start = time.perf_counter()
            run(x)
            times[name].append(time.perf_counter() - start)
    return len(x) / np.median(times["frozen"]), len(x) / np.median(times["restored"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rounds", type=int, default=40, help="pairs at batch 1 (fewer for larger)"
    )
    parser.add_argument("--batches", default="1,8,32")
    parser.add_argument("--device", default="cpu", choices=["cpu", "gpu"])
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    root = Path(tempfile.mkdtemp(prefix="paired_ratio_"))
    print(
        "| model | batch | frozen img/s | restored img/s | frozen/restored |\n|---|---|---|---|---|"
    )
    for model in MODELS:
        (root / model).mkdir()
        built = (build_slim if model == "slim" else build_keras)(root / model)
        frozen = make_predictor(model, "frozen", args.device, built)
        restored = make_predictor(model, "restored", args.device, built)
        for batch in (int(b) for b in args.batches.split(",")):
            rounds = max(5, args.rounds // max(1, batch // 4))
            f, r = paired_rates(frozen, restored, image_batch(batch), rounds)
            print(f"| {model} | {batch} | {f:.1f} | {r:.1f} | {f / r:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
