"""Throughput ratios measured *interleaved* (each round calls every path once, in a shuffled
order, after a short pause), so every path sees the same machine load: the fair ratio on a shared
machine, complementing pytest-benchmark's per-case figures. tflite (the LiteRT export, in the
interpreter named in the header) and onnxruntime (on the same frozen graph, via tf2onnx; when
installed) join on CPU; ``--int8`` adds the full-integer int8 LiteRT export (``tflite-int8``,
checked against TF's activations: see ``mobilenet_224.tflite_int8_predictor``). Every path is checked against the restored model before it is timed.
The header and footer give the CPU model and the load average.

``--fair`` pairs each runtime with its peer of the same precision instead, each pairing in its
own interleaved loop (two onnxruntime sessions in one loop slow each other: their spinning
thread pools fight): float (frozen, tflite, onnxruntime) and int8 (tflite-int8, onnxruntime-int8:
onnxruntime's static int8 quantization of the same frozen graph, calibrated on the same images;
see ``mobilenet_224.onnxruntime_int8_predictor``). Each row gives a path's images/s, its ratio
to the peer, its achieved GFLOP/s (GOP/s in int8) against the CPU's peak (``roofline``), and
the cores busy during its calls (process CPU time over wall time: ~1 when one thread works) and
its blocking waits per call (voluntary context switches, all threads: a pool whose workers sleep
between operators shows tens).

    python benchmarks/paired_ratio.py --rounds 40 [--int8]
    python benchmarks/paired_ratio.py --fair --models keras --rounds 40
"""

from __future__ import annotations

import argparse
import gc
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
    ORT_INT8_ACTIVATIONS,
    build_keras,
    build_slim,
    image_batch,
    make_predictor,
    onnx_missing,
)
from roofline import cpu_peak, model_flops  # noqa: E402

#: precision -> (the ftcore paths, their peer), each pairing timed in its own loop.
PAIRINGS = {
    "float": (("frozen", "tflite"), "onnxruntime"),
    "int8": (("tflite-int8",), "onnxruntime-int8"),
}


def cpu_model() -> str:
    """The CPU's model name (``lscpu``'s "Model name"), or the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def blocking_waits() -> int:
    """Voluntary context switches (a thread blocking: futex, sleep, I/O) of all this process's
    threads so far; 0 where /proc/self/task is not readable."""
    total = 0
    for status in Path("/proc/self/task").glob("*/status"):
        try:
            for line in status.read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    total += int(line.split()[1])
        except OSError:  # the thread ended meanwhile
            pass
    return total


def paired_rates(
    runs: dict,
    x: np.ndarray,
    rounds: int,
    pause: float = 0.05,
    seed: int = 0,
    cores: dict | None = None,
    waits: dict | None = None,
) -> dict[str, float]:
    """Median images/s of each of ``runs`` (name -> callable), after two warm-up calls each.

    Every round calls each path once, in a new seeded random order, with ``pause`` seconds
    of idle before each call: one runtime's thread pool keeps spinning briefly after a call
    and would otherwise slow whichever path always comes next. ``cores``, when given, receives
    each path's median cores busy during its calls (the process's CPU time, all threads, over
    the wall time): about 1 when one thread works, up to the core count when all do (or spin).
    ``waits``, when given, receives each path's median :func:`blocking_waits` per call: a
    thread pool whose workers sleep between operators wakes them (and waits) many times a call.
    """
    times: dict[str, list[float]] = {name: [] for name in runs}
    busy: dict[str, list[float]] = {name: [] for name in runs}
    blocked: dict[str, list[int]] = {name: [] for name in runs}
    for _ in range(2):
        for run in runs.values():
            run(x)
    rng = np.random.default_rng(seed)
    names = list(runs)
    for _ in range(rounds):
        for name in rng.permutation(names):
            time.sleep(pause)
            before = blocking_waits() if waits is not None else 0
            cpu, start = time.process_time(), time.perf_counter()
            runs[name](x)
            times[name].append(time.perf_counter() - start)
            busy[name].append((time.process_time() - cpu) / times[name][-1])
            if waits is not None:
                blocked[name].append(blocking_waits() - before)
    if cores is not None:
        cores.update({name: float(np.median(b)) for name, b in busy.items()})
    if waits is not None:
        waits.update({name: float(np.median(b)) for name, b in blocked.items()})
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
    parser.add_argument(
        "--fair",
        action="store_true",
        help="each precision's paths against onnxruntime at that precision, one loop per pairing",
    )
    parser.add_argument(
        "--ort-int8-activations",
        choices=ORT_INT8_ACTIVATIONS,
        default="int8",
        help="onnxruntime-int8's activation type (--fair; weights are int8)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.fair:
        return fair(args)
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


def fair_rows(
    model: str, precision: str, batch: int, ips: dict, gflop: float, peak, cores: dict, waits: dict
) -> list:
    """Table rows of one pairing at one batch: path, images/s, ratio to the peer, G(FL)OP/s,
    its share of the peak of that precision, the cores busy and blocking waits per call."""
    paths, peer = PAIRINGS[precision]
    top = peak.fp32_gflops if precision == "float" else peak.int8_gops
    return [
        f"| {model} | {precision} | {batch} | {p} | {ips[p]:.1f} | "
        + (f"{ips[p] / ips[peer]:.2f}x" if p != peer else "(peer)")
        + f" | {ips[p] * gflop:.1f} | {100 * ips[p] * gflop / top:.0f}% | {cores[p]:.2f} "
        f"| {waits[p]:.0f} |"
        for p in (*paths, peer)
    ]


def fair(args) -> int:
    """``--fair``: each pairing of :data:`PAIRINGS` in its own interleaved loop."""
    from ftcore.export import read_sidecar
    from ftcore.graph.safety import load_graph_def

    if args.device != "cpu":
        raise SystemExit("--fair compares CPU runtimes; drop --device gpu")
    no_onnx = onnx_missing()
    if no_onnx:
        raise SystemExit(f"--fair needs the onnxruntime peers ({no_onnx})")
    peak = cpu_peak()
    root = Path(tempfile.mkdtemp(prefix="paired_ratio_fair_"))
    print(f"# {cpu_model()}, {os.cpu_count()} cores; load average {os.getloadavg()}")
    print(f"# {peak.formula()}")
    for model in args.models.split(","):
        (root / model).mkdir()
        built = (build_slim if model == "slim" else build_keras)(root / model)
        flops = model_flops(load_graph_def(built[1]), read_sidecar(built[1]).inputs[0].name)
        print(
            f"# {model}: {flops / 1e9:.3f} GFLOP per image (2 x conv/matmul MACs from the frozen "
            "graph's shapes)"
        )
        print(
            "| model | precision | batch | path | img/s | vs peer | GFLOP/s (int8: GOP/s) | of peak "
            "| cores busy | waits/call |"
        )
        print("|---" * 10 + "|")
        for precision, (paths, peer) in PAIRINGS.items():
            # the float paths are checked against the restored model, the int8 ones against TF
            restored = (
                make_predictor(model, "restored", "cpu", built) if precision == "float" else None
            )
            runs = {
                p: make_predictor(model, p, "cpu", built, restored)
                if p != "onnxruntime-int8"
                else _ort_int8(built, args.ort_int8_activations)
                for p in (*paths, peer)
            }
            if restored is not None:
                restored.close()  # checked against; not timed
            for batch in (int(b) for b in args.batches.split(",")):
                rounds = max(5, args.rounds // max(1, batch // 4))
                cores, waits = {}, {}
                ips = paired_rates(runs, image_batch(batch), rounds, args.pause, 0, cores, waits)
                for row in fair_rows(model, precision, batch, ips, flops / 1e9, peak, cores, waits):
                    print(row, flush=True)
            print(
                f"# {model} {precision}: " + "; ".join(f"{p}: {r.runtime}" for p, r in runs.items())
            )
            for run in runs.values():
                run.close()
            del runs, restored  # the sessions' thread pools go before the next pairing
            gc.collect()
    print(f"# load average {os.getloadavg()}")
    return 0


def _ort_int8(built, activations: str):
    from mobilenet_224 import onnxruntime_int8_predictor

    return onnxruntime_int8_predictor(built[1], activations)


if __name__ == "__main__":
    sys.exit(main())
