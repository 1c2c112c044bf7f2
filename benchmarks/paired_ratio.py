"""Throughput ratios measured *interleaved* (each round calls every path once, in a shuffled
order, after a short pause), so every path sees the same machine load: the fair ratio on a shared
machine, complementing pytest-benchmark's per-case figures. tflite (the LiteRT export, in the
interpreter named in the header) and onnxruntime (on the same frozen graph, via tf2onnx; when
installed) join on CPU; ``--int8`` adds the full-integer int8 LiteRT export (``tflite-int8``,
checked against TF's activations: see ``mobilenet_224.tflite_int8_predictor``). Every path is checked against the restored model before it is timed.
The header and footer give the CPU model and the load average.

    python benchmarks/paired_ratio.py --rounds 40 [--int8]
"""

from __future__ import annotations

import argparse
import os
import platform
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


def cpu_model() -> str:
    """The CPU's model name (``lscpu``'s "Model name"), or the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def paired_rates(
    runs: dict, x: np.ndarray, rounds: int, pause: float = 0.05, seed: int = 0
) -> dict[str, float]:
    """Median images/s of each of ``runs`` (name -> callable), after two warm-up calls each.

    Every round calls each path once, in a new seeded random order, with ``pause`` seconds
    of idle before each call: one runtime's thread pool keeps spinning briefly after a call
    and would otherwise slow whichever path always comes next.
    """
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(2):
        for run in runs.values():
            run(x)
    rng = np.random.default_rng(seed)
    names = list(runs)
    for _ in range(rounds):
        for name in rng.permutation(names):
            time.sleep(pause)
            start = time.perf_counter()
            runs[name](x)
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
    parser.add_argument(
        "--pause", type=float, default=0.05, help="idle seconds before each timed call"
    )
    parser.add_argument(
        "--int8", action="store_true", help="add the int8 LiteRT export (CPU; speed only)"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    litert_paths = ["tflite"] + (["tflite-int8"] if args.int8 else [])
    paths = ["frozen", "restored"] + (litert_paths if args.device == "cpu" else [])
    no_onnx = onnx_missing() if args.device == "cpu" else "onnxruntime runs on CPU only"
    if no_onnx:
        print(f"({no_onnx}: skipped)")
    else:
        paths.append("onnxruntime")
    root = Path(tempfile.mkdtemp(prefix="paired_ratio_"))
    others = [p for p in paths if p != "frozen"]
    versus_onnx = [p for p in litert_paths if {p, "onnxruntime"} <= set(paths)]
    print(f"# {cpu_model()}, {os.cpu_count()} cores; load average {os.getloadavg()}")
    print(
        "| model | batch | "
        + " | ".join(
            [f"{p} img/s" for p in paths]
            + [f"frozen/{p}" for p in others]
            + [f"{p}/onnxruntime" for p in versus_onnx]
        )
        + " |\n"
        + "|---" * (2 + len(paths) + len(others) + len(versus_onnx))
        + "|"
    )
    for model in args.models.split(","):
        (root / model).mkdir()
        built = (build_slim if model == "slim" else build_keras)(root / model)
        restored = make_predictor(model, "restored", args.device, built)
        runs = {
            p: restored
            if p == "restored"
            else make_predictor(model, p, args.device, built, restored)
            for p in paths
        }
        for batch in (int(b) for b in args.batches.split(",")):
            rounds = max(5, args.rounds // max(1, batch // 4))
            ips = paired_rates(runs, image_batch(batch), rounds, pause=args.pause)
            cells = [f"{ips[p]:.1f}" for p in paths]
            ratios = [f"{ips['frozen'] / ips[p]:.2f}x" for p in others]
            ratios += [f"{ips[p] / ips['onnxruntime']:.2f}x" for p in versus_onnx]
            print(f"| {model} | {batch} | " + " | ".join(cells + ratios) + " |", flush=True)
        print(f"# {model}: " + "; ".join(f"{p}: {r.runtime}" for p, r in runs.items()))
        for run in runs.values():
            run.close()
    print(f"# load average {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
