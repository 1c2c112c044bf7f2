"""Feature caching speed-up for head-only training on the fixture model.

The pretrained fixture MobileNet (alpha 0.25, 32x32) cut at ``conv_dw_6_relu`` with the
"gap" head, trained on 512 source-task images, batch 32, SGD. An epoch's cost is timed by a
callback from ``on_epoch_begin`` to ``on_epoch_end`` (the median over epochs after the
first), so the once-per-stage costs (compile, tracing, the cached path's one feature
extraction) are excluded; both paths run in the same session, interleaved, and their ratio
goes to ``extra_info`` with images/s and epochs/s of each.

    pytest benchmarks/bench_feature_cache.py --benchmark-autosave
"""

from __future__ import annotations

import time

import keras
import numpy as np
import pytest

N_IMAGES = 512
EXTRA_EPOCHS = 6
BATCH = 32


@pytest.fixture(scope="module")
def setup(pretrained):
    from ftcore.keras.backbone import cut, load_backbone
    from ftcore.keras.head import attach_head
    from ftcore_fixtures.digits import source_task

    keras.utils.set_random_seed(0)
    base = load_backbone("MobileNet", (32, 32, 3), pretrained.keras_weights, alpha=0.25)
    model = attach_head(cut(base, "conv_dw_6_relu"), "gap", num_classes=5)
    src = source_task(size=32)
    return model, src.x_train[:N_IMAGES], src.y_train[:N_IMAGES]


class EpochTimer(keras.callbacks.Callback):
    """Seconds of each epoch, begin to end."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def _train(model, x, y, epochs: int, cache: bool) -> list[float]:
    from ftcore.keras import fine_tune, head_stage

    timer = EpochTimer()
    result = fine_tune(
        model, x, y, [head_stage(epochs)], batch_size=BATCH, cache_features=cache, callbacks=[timer]
    )
    assert result.stages[0].cached is cache
    return timer.seconds


def per_epoch_seconds(model, x, y, rounds: int = 3) -> dict[bool, float]:
    """Median seconds per epoch (first epoch of each stage excluded), the paths interleaved."""
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(rounds):
        for cache in (True, False):
            times[cache].extend(_train(model, x, y, 1 + EXTRA_EPOCHS, cache)[1:])
    return {cache: float(np.median(t)) for cache, t in times.items()}


@pytest.mark.slow
def test_feature_cache_epoch_speedup(benchmark, setup):
    model, x, y = setup
    per_epoch = per_epoch_seconds(model, x, y)
    # pytest-benchmark's own figure: a whole cached head-only stage of 1 + E epochs.
    benchmark.pedantic(_train, args=(model, x, y, 1 + EXTRA_EPOCHS, True), rounds=3, iterations=1)
    speedup = per_epoch[False] / per_epoch[True]
    benchmark.extra_info.update(
        {
            "images": len(x),
            "cached_epochs_per_s": 1 / per_epoch[True],
            "uncached_epochs_per_s": 1 / per_epoch[False],
            "cached_images_per_s": len(x) / per_epoch[True],
            "uncached_images_per_s": len(x) / per_epoch[False],
            "speedup_per_epoch": speedup,
        }
    )
    print(
        f"\nper epoch: cached {per_epoch[True] * 1e3:.1f} ms, uncached "
        f"{per_epoch[False] * 1e3:.1f} ms -> speed-up {speedup:.1f}x (target >= 10x)"
    )
    assert speedup > 1, "the cached path is not faster at all"
