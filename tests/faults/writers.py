"""The writer processes the fault tests kill: ``python -m tests.faults.writers KIND ARGS...``.

Each is a real ftcore write (no mocks):
``file`` (:func:`ftcore.atomic.atomic_path`, written in slow pieces), ``cache``
(:func:`ftcore.atomic.build_once` with a small slow builder standing in for the
two-minute fixture build, same code path), ``freeze`` (the ``ftcore freeze`` CLI), ``keras``
(``fine_tune`` with ``checkpoint_dir``) and ``graph`` (``GraphFineTuner.save``).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

CACHE_FILES = {"weights.bin": 2_000_000, "meta.json": 200, "manifest.json": 100}


def cache_content(name: str, size: int) -> bytes:
    """What the stand-in builder writes to ``name``: ``size`` bytes, distinct per file."""
    return (name.encode() * (size // len(name) + 1))[:size]


def write_file(out: str, tag: str, size: str, delay: str) -> None:
    from ftcore.atomic import atomic_path

    with atomic_path(out) as tmp, open(tmp, "wb") as f:  # in pieces, like a slow serializer
        for _ in range(20):
            f.write(tag.encode() * (int(size) // 20))
            f.flush()
            time.sleep(float(delay) / 20)


def fill_cache(path: str, delay: str) -> None:
    from ftcore.atomic import build_once

    def build(tmp: Path) -> None:
        print("building", flush=True)
        for name, size in CACHE_FILES.items():
            with open(tmp / name, "wb") as f:  # in pieces, so a kill can land mid-file
                data = cache_content(name, size)
                for i in range(0, size, 100_000):
                    f.write(data[i : i + 100_000])
                    f.flush()
                    time.sleep(float(delay) / 20)

    build_once(path, build)
    print("done", flush=True)


def freeze(ckpt: str, out: str, labels: str) -> None:
    from ftcore.app.cli import main
    from tests.helpers.graph_nets import PREDICTIONS

    sys.exit(main(["freeze", ckpt, "--output", out, "--outputs", PREDICTIONS, "--labels", labels]))


def keras_fine_tune(checkpoint_dir: str, seed: str) -> None:
    from ftcore.keras import fine_tune, head_stage, unfreeze_stage
    from tests.helpers.keras_nets import build_net, data_for

    model = build_net(KERAS_SPEC, seed=int(seed))
    x, y = data_for(model, 16, seed=int(seed))
    stages = [
        head_stage(KERAS_EPOCHS, 0.05, "momentum"),
        unfreeze_stage(0, KERAS_EPOCHS, 0.05, "momentum"),
    ]
    fine_tune(
        model,
        x,
        y,
        stages,
        batch_size=8,
        shuffle=False,
        checkpoint_dir=checkpoint_dir,
        resume=os.environ.get("RESUME") == "1",
    )
    print("done", flush=True)


KERAS_EPOCHS = 2  # per stage
KERAS_SPEC = {"kind": "dense", "blocks": [(3, False, False), (3, True, False)], "head_bn": False}


def graph_save(ckpt: str, out: str, seed: str) -> None:
    from ftcore.graph.finetune import GraphFineTuner
    from tests.helpers.graph_nets import NUM_CLASSES, TARGET

    # the random seed sets the new head's initial values: two seeds, two checkpoints of one step
    with GraphFineTuner.from_meta(ckpt, TARGET, num_classes=NUM_CLASSES, seed=int(seed)) as ft:
        ft.save(out)
    print("done", flush=True)


def every_output(ckpt: str, out: str, labels: str) -> None:
    """One of each kind of output, into ``out``: ``.pb``, ``.tflite`` (from that ``.pb``) and
    their sidecars, a graph checkpoint and Keras checkpoints (the mode tests' writer)."""
    from ftcore.app.cli import main

    out_dir = Path(out)
    assert main(["freeze", ckpt, "--output", str(out_dir / "model.pb"), "--outputs",
                 _predictions(), "--labels", labels]) == 0  # fmt: skip
    assert main(["freeze", str(out_dir / "model.pb"), "--format", "tflite",
                 "--output", str(out_dir / "model.tflite")]) == 0  # fmt: skip
    graph_save(ckpt, str(out_dir / "graph"), "0")
    keras_fine_tune(str(out_dir / "keras"), "0")


def _predictions() -> str:
    from tests.helpers.graph_nets import PREDICTIONS

    return PREDICTIONS


WRITERS = {
    "outputs": every_output,
    "file": write_file,
    "cache": fill_cache,
    "freeze": freeze,
    "keras": keras_fine_tune,
    "graph": graph_save,
}

if __name__ == "__main__":
    WRITERS[sys.argv[1]](*sys.argv[2:])
