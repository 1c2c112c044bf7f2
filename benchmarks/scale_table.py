"""How fine-tuning step time and inference throughput grow with batch size and image size: a
table to size a job with.

Keras MobileNetV2 (alpha 1.0, random init, BN statistics randomised) with ftcore's "gap" head
(10 classes), at each image size:

- inference: the optimized frozen export (``ftcore.export.pb.export_keras``) in a session,
  images/s, median over calls;
- fine-tuning: the median time of one optimizer step of :func:`ftcore.keras.fine_tune` with an
  ``unfreeze_stage`` from ``block_13_expand`` (the last third of the network, Adam) and from
  the first layer (the whole network), timed per batch by a callback after warm-up steps.
  A head-only stage trains on cached features: its cost is one inference pass per image.

    python benchmarks/scale_table.py --sizes 96,160,224 --batches 1,8,32
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mobilenet_224 import _randomise_bn  # noqa: E402

NUM_CLASSES = 10
UNFREEZE = {"top third": "block_13_expand", "all": 0}


def build(size: int):
    """MobileNetV2 1.0 at ``size`` with the gap head, BN statistics randomised (seed 0)."""
    import keras

    from ftcore.keras import attach_head, load_backbone

    keras.utils.set_random_seed(0)
    base = load_backbone("MobileNetV2", (size, size, 3), None, alpha=1.0)
    rng = np.random.default_rng(0)
    names = ["gamma", "beta", "moving_mean", "moving_variance"]
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            new = _randomise_bn(dict(zip(names, layer.get_weights(), strict=True)), rng)
            layer.set_weights([new[n] for n in names])
    return attach_head(base, "gap", num_classes=NUM_CLASSES)


def inference_rate(predictor, size: int, batch: int, calls: int) -> float:
    """Median images/s of ``predictor`` on a [batch, size, size, 3] batch after two warm-ups."""
    x = np.random.default_rng(0).uniform(-1, 1, (batch, size, size, 3)).astype(np.float32)
    for _ in range(2):
        predictor(x)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        predictor(x)
        times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def step_seconds(model, size: int, batch: int, start, steps: int, warmup: int = 2) -> float:
    """Median seconds per optimizer step of a fine_tune unfreeze stage (first ``warmup`` out)."""
    import keras

    from ftcore.keras import fine_tune, unfreeze_stage

    class StepTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []

        def on_train_batch_begin(self, step, logs=None):
            self._start = time.perf_counter()

        def on_train_batch_end(self, step, logs=None):
            self.seconds.append(time.perf_counter() - self._start)

    rng = np.random.default_rng(0)
    n = batch * (steps + warmup)
    x = rng.uniform(-1, 1, (n, size, size, 3)).astype(np.float32)
    y = np.arange(n) % NUM_CLASSES
    timer = StepTimer()
    stage = unfreeze_stage(start, 1, 1e-4, "adam")
    fine_tune(model, x, y, [stage], batch_size=batch, shuffle=False, callbacks=[timer])
    return statistics.median(timer.seconds[warmup:])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="96,160,224")
    parser.add_argument("--batches", default="1,8,32", help="inference batch sizes")
    parser.add_argument("--train-batches", default="8,32")
    parser.add_argument("--calls", type=int, default=10, help="timed inference calls")
    parser.add_argument("--steps", type=int, default=4, help="timed training steps")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from ftcore.export.pb import export_keras
    from ftcore.predict import predictor

    sizes = [int(s) for s in args.sizes.split(",")]
    batches = [int(b) for b in args.batches.split(",")]
    train_batches = [int(b) for b in args.train_batches.split(",")]
    root = Path(tempfile.mkdtemp(prefix="scale_table_"))
    print(f"load: {os.getloadavg()[0]:.2f} (1-min), {os.cpu_count()} cores")
    header = ["image", "batch", "inference img/s (frozen)"] + [
        f"train {unit} ({part})" for part in UNFREEZE for unit in ("step s", "img/s")
    ]
    print("| " + " | ".join(header) + " |")
    print("|---|---|---|---|---|---|---|")
    for size in sizes:
        model = build(size)
        pb = root / f"mobilenet_v2_{size}.pb"
        export_keras(model, pb)
        with predictor.from_pb(pb) as frozen:
            infer = {b: inference_rate(frozen, size, b, args.calls) for b in batches}
        train = {
            (b, part): step_seconds(build(size), size, b, start, args.steps)
            for b in train_batches
            for part, start in UNFREEZE.items()
        }
        for b in sorted(set(batches) | set(train_batches)):
            cells = [f"{infer[b]:.1f}" if b in infer else "-"]
            for part in UNFREEZE:
                s = train.get((b, part))
                cells += [f"{s:.3f}", f"{b / s:.1f}"] if s is not None else ["-", "-"]
            print(f"| {size} | {b} | " + " | ".join(cells) + " |", flush=True)
    print(f"load: {os.getloadavg()[0]:.2f} (1-min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
