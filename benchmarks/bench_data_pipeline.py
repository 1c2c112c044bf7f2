"""Input pipeline throughput: decode + resize + scale alone, images/s.

A folder of ``N_IMAGES`` 224x224 JPEGs generated from the shipped photos (seeded crops,
flips and sizes, quality 90) is streamed through :func:`ftcore.data.image_dataset` (batch 32,
parallel decode with AUTOTUNE, prefetch) to the MobileNet convention at 224 (no resize) and
160 (a resize); ``extra_info`` records images/s of the pipeline and of the same loader run
serially (``predict.images.load_images``, one thread) for comparison.

    pytest benchmarks/bench_data_pipeline.py --benchmark-autosave
    python benchmarks/bench_data_pipeline.py  # three rounds of each, printed
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

N_IMAGES = int(os.environ.get("FTCORE_BENCH_DATA_IMAGES", 500))
BATCH = 32


def make_jpegs(folder: Path, n: int = N_IMAGES, seed: int = 0) -> list[Path]:
    """``n`` 224x224 JPEGs cut from the shipped photos (seeded), in two class folders."""
    from ftcore_fixtures import photo_paths

    photos = [Image.open(p).convert("RGB") for p in photo_paths().values()]
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        img = photos[i % len(photos)]
        side = int(rng.integers(min(img.size) // 2, min(img.size)))
        left = int(rng.integers(0, img.width - side + 1))
        top = int(rng.integers(0, img.height - side + 1))
        crop = img.crop((left, top, left + side, top + side)).resize((224, 224))
        if rng.random() < 0.5:
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        path = folder / f"class{i % 2}" / f"{i:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        crop.save(path, quality=90)
        paths.append(path)
    return paths


def stream(paths: list[Path], size: int) -> int:
    """Read every batch of the pipeline once; the number of images."""
    from ftcore.data import image_dataset

    ds = image_dataset(paths, [i % 2 for i in range(len(paths))], size, batch_size=BATCH)
    return sum(int(x.shape[0]) for x, _ in ds)


def serial(paths: list[Path], size: int) -> int:
    from ftcore.predict.images import iter_batches

    return sum(len(chunk) for chunk, _ in iter_batches(paths, size, batch_size=BATCH))


@pytest.fixture(scope="module")
def jpegs(tmp_path_factory):
    return make_jpegs(tmp_path_factory.mktemp("jpegs"))


@pytest.mark.slow
@pytest.mark.parametrize("size", [224, 160])
def test_pipeline_images_per_second(benchmark, jpegs, size):
    stream(jpegs[:BATCH], size)  # warm up: TF start, tracing, page cache
    start = time.perf_counter()
    assert serial(jpegs, size) == len(jpegs)
    serial_ips = len(jpegs) / (time.perf_counter() - start)
    n = benchmark.pedantic(stream, args=(jpegs, size), rounds=3, iterations=1)
    assert n == len(jpegs)
    stats = getattr(benchmark, "stats", None)  # None under --benchmark-disable
    if stats:
        ips = len(jpegs) / stats.stats.median
        benchmark.extra_info.update(
            images=len(jpegs), size=size, pipeline_images_per_s=ips, serial_images_per_s=serial_ips
        )
        print(f"\n{size}px: pipeline {ips:.0f} img/s, serial loader {serial_ips:.0f} img/s")


def main() -> None:
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="ftcore-bench-data-"))
    try:
        _rounds(make_jpegs(folder), folder)
    finally:
        shutil.rmtree(folder)


def _rounds(paths: list[Path], folder: Path) -> None:
    print(f"{len(paths)} JPEGs 224x224 in {folder}; {os.cpu_count()} CPU cores visible")
    stream(paths[:BATCH], 224)
    for size in (224, 160):
        for name, run in (("pipeline", stream), ("serial", serial)):
            rates = []
            for _ in range(3):
                start = time.perf_counter()
                run(paths, size)
                rates.append(len(paths) / (time.perf_counter() - start))
            print(f"{size}px {name}: " + ", ".join(f"{r:.0f}" for r in rates) + " img/s")


if __name__ == "__main__":
    sys.exit(main())
