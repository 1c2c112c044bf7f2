"""The seed recipe's two stages in plain Keras and in ftcore, timed interleaved in one run.

The recipe (issue 19): Keras ``MobileNet(alpha=1.0)`` at 128x128 with the genuine ImageNet
weights (the store's ``mobilenet-v1-keras``), cut at ``conv_dw_6_relu``, the conv head with a
BatchNormalization first (as ``transfer_study.py``'s ``keras`` arm), 384 real MNIST digits
(``mnist-5k``) as RGB in [-1, 1], batch 32; stage 1 trains the head for 10 epochs (SGD,
momentum 0.9, lr 0.01), stage 2 trains every layer from ``conv_dw_5`` on for 3 epochs at 1e-4
with every pretrained BatchNormalization frozen.

- ``keras``: plain Keras, as its transfer-learning guide writes it: ``trainable`` flags,
  ``compile``, ``fit`` per stage.
- ``ftcore``: ``fine_tune`` with ``head_stage`` and ``unfreeze_stage``: stage 1 on the head
  cache, stage 2 on the prefix cache (:mod:`ftcore.keras.prefix_cache`).

Each round builds both models with the same initial variables (dropout seeds included) and
trains them on the same batches (no shuffling), so their final weights must agree: the table
gives the largest weight difference beside the times. A stage's time is the whole stage
(compile, tracing, the caches' one prefix pass); images/s is epochs x images / that time.
Both arms run in every round, in alternating order; ratios are per round, min-max over
rounds. Run on a quiet machine::

    python benchmarks/plain_keras_recipe.py --rounds 3

``pytest benchmarks/plain_keras_recipe.py`` runs one round through pytest-benchmark (with
``--benchmark-disable``, a smoke round on 64 images, 1 + 1 epochs).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SIZE, CUT, UNFREEZE, CLASSES, BATCH = 128, "conv_dw_6_relu", "conv_dw_5", 10, 32
WEIGHTS_FILE = "mobilenet_1_0_224_tf_no_top.h5"


@dataclass(frozen=True)
class Recipe:
    images: int = 384
    head_epochs: int = 10
    unfreeze_epochs: int = 3


SMOKE = Recipe(images=64, head_epochs=1, unfreeze_epochs=1)


def recipe_data(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` MNIST digits (the store's ``mnist-5k``) as float32 RGB [n, 128, 128, 3] in [-1, 1]."""
    import tensorflow as tf

    from ftcore.pretrained import fetch

    with np.load(fetch("mnist-5k") / "mnist_5k.npz") as z:
        x, y = z["x"][:n], z["y"][:n].astype("int64")
    out = tf.image.resize(x[..., None].astype(np.float32), (SIZE, SIZE), method="bilinear")
    return np.repeat(out.numpy(), 3, axis=-1) / 127.5 - 1.0, y


def weights_path(entry: Path | None = None) -> Path:
    """The weights file in the store's ``mobilenet-v1-keras`` entry (fetched if need be)."""
    from ftcore.pretrained import fetch

    return (entry or fetch("mobilenet-v1-keras")) / WEIGHTS_FILE


# -- plain Keras -----------------------------------------------------------------------------
def keras_model(weights: Path):
    """The cut MobileNet and the conv head, in plain Keras."""
    import keras

    L = keras.layers
    base = keras.applications.MobileNet(
        input_shape=(SIZE, SIZE, 3), alpha=1.0, include_top=False, weights=str(weights)
    )
    h = base.get_layer(CUT).output
    h = L.BatchNormalization(name="head_norm")(h)
    h = L.ReLU(name="head_relu")(L.Conv2D(64, 3, padding="same", name="head_conv")(h))
    h = L.Dropout(0.2, name="head_dropout")(L.GlobalAveragePooling2D(keepdims=True)(h))
    h = L.Reshape((CLASSES,))(L.Conv2D(CLASSES, 1, name="head_logits")(h))
    return keras.Model(base.input, L.Activation("softmax")(h))


def keras_recipe(model, x, y, r: Recipe) -> tuple[float, float]:
    """Both stages the plain Keras way; ``(stage 1 seconds, stage 2 seconds)``."""
    import keras

    def stage(lr, epochs):
        t = time.perf_counter()
        model.compile(
            keras.optimizers.SGD(lr, momentum=0.9),
            "sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        model.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0)
        return time.perf_counter() - t

    names = [layer.name for layer in model.layers]
    head, start = names.index("head_norm"), names.index(UNFREEZE)
    for i, layer in enumerate(model.layers):
        layer.trainable = i >= head
    s1 = stage(0.01, r.head_epochs)
    for i, layer in enumerate(model.layers):  # pretrained BatchNormalization stays frozen
        bn = isinstance(layer, keras.layers.BatchNormalization) and i < head
        layer.trainable = i >= start and not bn
    return s1, stage(1e-4, r.unfreeze_epochs)


# -- ftcore ----------------------------------------------------------------------------------
def ftcore_model(weights: Path):
    from ftcore.keras import attach_head, cut, load_backbone

    base = load_backbone("MobileNet", (SIZE, SIZE, 3), weights, alpha=1.0)
    return attach_head(cut(base, CUT), "conv", num_classes=CLASSES, normalize=True)


def ftcore_recipe(model, x, y, r: Recipe) -> tuple[float, float]:
    """Both stages through ``fine_tune``; ``(stage 1 seconds, stage 2 seconds)``."""
    from ftcore.keras import fine_tune, head_stage, unfreeze_stage

    seconds = []
    for stage in (
        head_stage(r.head_epochs, 0.01, "momentum"),
        unfreeze_stage(UNFREEZE, r.unfreeze_epochs, 1e-4, "momentum"),
    ):
        t = time.perf_counter()
        result = fine_tune(model, x, y, [stage], batch_size=BATCH, shuffle=False)
        seconds.append(time.perf_counter() - t)
        if not result.stages[0].cached:
            raise AssertionError(f"{stage.name}: not cached: {result.stages[0].cache_blockers}")
    return seconds[0], seconds[1]


# -- one interleaved run ---------------------------------------------------------------------
def paired_models(weights: Path, seed: int):
    """The plain Keras and the ftcore model, with the same initial variables."""
    import keras

    keras.utils.set_random_seed(seed)
    plain, ours = keras_model(weights), ftcore_model(weights)
    if len(plain.variables) != len(ours.variables):
        raise AssertionError("the plain Keras and the ftcore model differ in structure")
    for a, b in zip(ours.variables, plain.variables, strict=True):
        a.assign(b)
    return plain, ours


def one_round(weights: Path, x, y, r: Recipe, seed: int, keras_first: bool) -> dict:
    """Both arms once: their stage times and the largest final weight difference."""
    plain, ours = paired_models(weights, seed)
    initial = plain.get_weights()
    arms = [("keras", keras_recipe, plain), ("ftcore", ftcore_recipe, ours)]
    out = {}
    for name, run, model in arms if keras_first else arms[::-1]:
        out[name] = run(model, x, y, r)
    diff = max(
        float(np.max(np.abs(a - b)))
        for a, b in zip(plain.get_weights(), ours.get_weights(), strict=True)
    )
    moved = max(
        float(np.max(np.abs(a - b))) for a, b in zip(plain.get_weights(), initial, strict=True)
    )
    return {**out, "max_weight_diff": diff, "max_weight_change": moved}


def summarize(rounds: list[dict], r: Recipe, n: int) -> dict:
    """Per arm: stage 1, stage 2 and end-to-end seconds and images/s (median); per round
    ratios ftcore/keras (images/s; wall time for end to end), min and max."""
    imgs = {"stage1": r.head_epochs * n, "stage2": r.unfreeze_epochs * n}
    imgs["end_to_end"] = imgs["stage1"] + imgs["stage2"]

    def parts(t):
        return {"stage1": t[0], "stage2": t[1], "end_to_end": t[0] + t[1]}

    table = {}
    for part in imgs:
        k = [parts(rd["keras"])[part] for rd in rounds]
        f = [parts(rd["ftcore"])[part] for rd in rounds]
        speed = [a / b for a, b in zip(k, f, strict=True)]
        table[part] = {
            "keras_s": float(np.median(k)),
            "ftcore_s": float(np.median(f)),
            "keras_images_per_s": imgs[part] / float(np.median(k)),
            "ftcore_images_per_s": imgs[part] / float(np.median(f)),
            "speedup_min": min(speed),
            "speedup_max": max(speed),
            "wall_ratio_min": 1 / max(speed),
            "wall_ratio_max": 1 / min(speed),
        }
    for key in ("max_weight_diff", "max_weight_change"):
        table[key] = max(rd[key] for rd in rounds)
    return table


def run(r: Recipe, rounds: int, seed: int = 0, weights: Path | None = None) -> dict:
    """``rounds`` interleaved rounds of both arms, summarized (see :func:`summarize`)."""
    weights = weights or weights_path()
    x, y = recipe_data(r.images)
    results = [one_round(weights, x, y, r, seed, keras_first=i % 2 == 0) for i in range(rounds)]
    return summarize(results, r, len(x))


def format_summary(t: dict, r: Recipe, rounds: int) -> str:
    from ftcore.text_table import format_table

    rows = [
        [
            part,
            f"{v['keras_s']:.2f}",
            f"{v['ftcore_s']:.2f}",
            f"{v['keras_images_per_s']:.0f}",
            f"{v['ftcore_images_per_s']:.0f}",
            f"{v['speedup_min']:.2f}-{v['speedup_max']:.2f}x",
            f"{v['wall_ratio_min']:.2f}-{v['wall_ratio_max']:.2f}",
        ]
        for part, v in t.items()
        if not part.startswith("max_")
    ]
    head = ["part", "keras s", "ftcore s", "keras img/s", "ftcore img/s", "speed-up", "wall ratio"]
    return (
        f"{r.images} images, {r.head_epochs} + {r.unfreeze_epochs} epochs, {rounds} rounds, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}\n"
        + format_table(head, rows, right=range(1, 7))
        + f"\nlargest final weight difference ftcore vs keras: {t['max_weight_diff']:.2e} "
        f"(largest change by training: {t['max_weight_change']:.2e})"
        "\ntargets: stage 2 speed-up >= 1.5x, end-to-end wall ratio <= 0.4"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--smoke", action="store_true", help="64 images, 1 + 1 epochs")
    a = p.parse_args(argv)
    r = SMOKE if a.smoke else Recipe()
    print(format_summary(run(r, a.rounds, a.seed), r, a.rounds))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
