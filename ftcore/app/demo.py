"""``ftcore demo``: the seed's whole fine-tuning story, end to end, on the shipped real data.

1. Keras path: the pretrained MobileNet (alpha 0.25) cut at ``conv_dw_6_relu``, the seed's
   conv head, stage 1 (head only, SGD 0.01), stage 2 (partial unfreeze, SGD 1e-4), with
   best-model checkpoints and TensorBoard logs.
2. Graph path: the slim MobileNetV2 checkpoint, var_list selected up to
   ``MobilenetV2/expanded_conv_14/output``, restore plan printed, new layers trained,
   fine-tuned checkpoint saved.

Each path also trains two from-scratch baselines on the same data and budget: the network as
built, and with BatchNorm set up to work in a short budget (see :data:`BASELINES`).
3. Both frozen to optimized ``.pb`` files (each export checks frozen == restored), then
   predictions on a real photo and held-out digits, and frozen vs restored throughput.
4. A summary table (also written as ``summary.json``).

    >>> summary = run_demo(DemoConfig(out_dir=Path("runs/demo"), quick=True))  # doctest: +SKIP
    >>> summary["keras"]["finetuned_accuracy"] > summary["keras"]["scratch_accuracy"]["as_built"]  # doctest: +SKIP
    True
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


FULL = Budget(
    head_epochs=30, unfreeze_epochs=10, graph_steps=200, per_class=10, throughput_batches=20
)
QUICK = Budget(
    head_epochs=12, unfreeze_epochs=4, graph_steps=60, per_class=10, throughput_batches=5
)


@dataclass(frozen=True)
class DemoConfig:
    """Where to write, how long to train, and the seed (same seed, same accuracies)."""

    out_dir: Path | None = None
    quick: bool = False
    seed: int = 0

    @property
    def budget(self) -> Budget:
        return QUICK if self.quick else FULL


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


def keras_path(pretrained, target, budget: Budget, out: Path, seed: int, log) -> dict:
    """Fine-tune the pretrained Keras backbone in two stages; train the scratch baseline."""
    import keras

    from ftcore.keras import Stage, fine_tune, head_stage, unfreeze_stage
    from ftcore.keras.backbone import cut, load_backbone
    from ftcore.keras.head import attach_head

    def build(weights):
        keras.utils.set_random_seed(seed)
        base = load_backbone(
            pretrained.keras_app,
            (pretrained.image_size, pretrained.image_size, 3),
            weights=weights,
            alpha=pretrained.keras_alpha,
        )
        return attach_head(cut(base, KERAS_CUT), "conv", num_classes=target.num_classes)

    model = build(pretrained.keras_weights)
    stages = [
        head_stage(epochs=budget.head_epochs, learning_rate=0.01, optimizer="momentum"),
        unfreeze_stage("conv_dw_5", epochs=budget.unfreeze_epochs, learning_rate=1e-4,
                       optimizer="momentum"),
    ]  # fmt: skip
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

    epochs = budget.head_epochs + budget.unfreeze_epochs
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
        log(f"baseline from scratch ({BASELINES[kind]}), {epochs} epochs: held-out accuracy "
            f"{scratch_acc[kind]:.3f}")  # fmt: skip
    model_path = out / "finetuned.keras"
    from ftcore.keras import save_model_atomic

    save_model_atomic(model, model_path)
    return {
        "model": model,
        "finetuned_accuracy": acc,
        "scratch_accuracy": scratch_acc,
        "model_path": str(model_path),
        "checkpoints": str(out / "checkpoints"),
        "logs": str(out / "logs"),
    }


def graph_path(pretrained, target, budget: Budget, out: Path, seed: int, log) -> dict:
    """Train a new head on the slim checkpoint's graph, then unfreeze the last blocks at a
    tenth of the rate; train the scratch baseline on the same steps."""
    import tensorflow as tf

    from ftcore.graph.finetune import HEAD_SCOPE, GraphFineTuner
    from ftcore.graph.nets.slim_mobilenet_v2 import mobilenet_v2

    data, half = (target.x_train, target.y_train), budget.graph_steps // 2
    with GraphFineTuner.from_meta(
        pretrained.slim_ckpt_dir,
        GRAPH_TARGET,
        target.num_classes,
        learning_rate=GRAPH_LR,
        seed=seed,
    ) as ft:
        log(f"var_list up to {GRAPH_TARGET}: {len(ft.var_list)} variables")
        log(ft.plan.report())
        losses = ft.fit(data, steps=half, logdir=out / "logs" / "head", seed=seed)
        log(f"head: {len(losses)} steps, loss {losses[0]:.3f} -> {losses[-1]:.3f}")
        ft.unfreeze(GRAPH_UNFREEZE, learning_rate=GRAPH_LR / 10)
        losses = ft.fit(data, steps=budget.graph_steps - half, logdir=out / "logs" / "unfreeze",
                        seed=seed + 1)  # fmt: skip
        log(f"head + {', '.join(GRAPH_UNFREEZE)} at lr/10: {len(losses)} steps, "
            f"loss {losses[0]:.3f} -> {losses[-1]:.3f}")  # fmt: skip
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

        def build(is_training=is_training):
            tf.compat.v1.set_random_seed(seed)  # op determinism needs a graph-level seed
            x = tf.compat.v1.placeholder(
                tf.float32, [None, pretrained.image_size, pretrained.image_size, 3], name="input"
            )
            mobilenet_v2(x, num_classes=target.num_classes, is_training=is_training,
                         depth_multiplier=pretrained.slim_depth_multiplier)  # fmt: skip

        with GraphFineTuner.from_builder(
            build, None, GRAPH_TARGET, target.num_classes, learning_rate=GRAPH_LR, seed=seed,
            trainable_scopes=["MobilenetV2", HEAD_SCOPE],
        ) as scratch:  # fmt: skip
            scratch.fit(data, steps=budget.graph_steps, seed=seed)
            scratch_acc[kind] = scratch.evaluate(target.x_test, target.y_test)
        log(f"baseline from scratch ({BASELINES[kind]}), {budget.graph_steps} steps: held-out "
            f"accuracy {scratch_acc[kind]:.3f}")  # fmt: skip
    return {
        "finetuned_accuracy": acc,
        "scratch_accuracy": scratch_acc,
        "checkpoint": ckpt,
        "logits": logits,
        "restore_plan": plan,
        "logs": str(out / "logs"),
    }


def export_and_predict(keras_res: dict, graph_res: dict, pretrained, target, budget, out, log):
    """Freeze both models (self-checked), predict a photo and the held-out digits, time both paths."""
    from ftcore.export.pb import export_checkpoint, export_keras
    from ftcore.predict.predictor import from_checkpoint, from_keras, from_pb
    from ftcore_fixtures import photo_paths

    labels = list(target.class_names)
    keras_pb, graph_pb = out / "keras_finetuned.pb", out / "graph_finetuned.pb"
    sc = export_keras(keras_res["model"], keras_pb, labels=labels)
    log(f"{keras_pb}: frozen == restored within atol {sc.check['atol']} ({sc.check})")
    sc = export_checkpoint(Path(graph_res["checkpoint"]).parent, graph_pb, [graph_res["logits"]],
                           input_name="input", labels=labels)  # fmt: skip
    log(f"{graph_pb}: frozen == restored within atol {sc.check['atol']} ({sc.check})")

    photo = photo_paths()["chelsea_cat"]
    x = target.x_test[:32]
    rows = {}
    pairs = {
        "keras": (from_keras(keras_res["model"], labels=labels), from_pb(keras_pb)),
        "graph": (
            from_checkpoint(Path(graph_res["checkpoint"]).parent, graph_res["logits"],
                                input_name="input", labels=labels),
            from_pb(graph_pb),
        ),
    }  # fmt: skip
    for name, (restored_p, frozen_p) in pairs.items():
        with restored_p, frozen_p:
            acc = float((frozen_p.predict(target.x_test).argmax(-1) == target.y_test).mean())
            top = frozen_p.top_k_images([photo], k=3)[0]
            log(f"{name} frozen: held-out digits accuracy {acc:.3f}; {photo.name} top-3 "
                + ", ".join(f"'{p.label}' {p.score:.2f}" for p in top)
                + " (a digit classifier shown a cat: this shows the photo pipeline, not a cat)")  # fmt: skip
            rows[name] = {
                "frozen_accuracy": acc,
                "restored_img_s": _throughput(restored_p, x, budget.throughput_batches),
                "frozen_img_s": _throughput(frozen_p, x, budget.throughput_batches),
            }
    return {"keras_pb": str(keras_pb), "graph_pb": str(graph_pb), "inference": rows}


def _table(summary: dict) -> str:
    from ftcore.text_table import format_table

    k, g, inf = summary["keras"], summary["graph"], summary["export"]["inference"]
    rows = [
        [name, f"{r['finetuned_accuracy']:.3f}", f"{r['scratch_accuracy']['as_built']:.3f}",
         f"{r['scratch_accuracy']['tuned_bn']:.3f}", f"{inf[key]['frozen_img_s']:.0f}",
         f"{inf[key]['restored_img_s']:.0f}"]
        for key, name, r in (("keras", "Keras MobileNet 0.25 @conv_dw_6_relu", k),
                             ("graph", "slim MobileNetV2 0.35 @expanded_conv_14", g))
    ]  # fmt: skip
    table = format_table(
        ["model", "fine-tuned acc", "scratch acc", "scratch acc (tuned BN)", "frozen img/s",
         "restored img/s"],
        rows,
    )  # fmt: skip
    plan = g["restore_plan"]
    return "\n".join([
        table,
        "",
        f"restore plan: {plan['to_restore']} restored, {plan['graph_only']} graph-only, "
        f"{plan['checkpoint_only']} checkpoint-only, {plan['mismatched']} mismatched",
        "throughput: batch 32 of 32x32 digits, this run, this machine (see benchmarks/ for more)",
        f"TensorBoard logs:  {k['logs']}  {g['logs']}",
        f"checkpoints:       {k['checkpoints']}  {g['checkpoint']}",
        f"fine-tuned model:  {k['model_path']}",
        f"frozen graphs:     {summary['export']['keras_pb']}  {summary['export']['graph_pb']}",
    ])  # fmt: skip


def run_demo(config: DemoConfig, log: Callable[[str], None] = print) -> dict:
    """Run every step; write ``summary.json`` under the output folder and return the summary."""
    import keras
    import tensorflow as tf

    from ftcore.atomic import write_text
    from ftcore_fixtures.build import ensure_built
    from ftcore_fixtures.digits import target_task

    out = prepare_out_dir(config.out_dir or default_out_dir())
    budget = config.budget
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()
    t0 = time.perf_counter()

    _section(log, "pretrained fixtures (built once, then cached)")
    pretrained = ensure_built()
    log(f"fixtures: {pretrained.root} (source-task accuracy {pretrained.accuracy})")
    target = target_task(pretrained.image_size, per_class=budget.per_class, seed=config.seed)
    log(f"target task: digits 5-9, {len(target.y_train)} labelled training images, "
        f"{len(target.y_test)} held out")  # fmt: skip

    _section(log, "1. Keras path")
    keras_res = keras_path(pretrained, target, budget, out / "keras", config.seed, log)
    _section(log, "2. Graph path (TF1 checkpoint)")
    graph_res = graph_path(pretrained, target, budget, out / "graph", config.seed, log)
    _section(log, "3. Freeze, verify, predict")
    export = export_and_predict(keras_res, graph_res, pretrained, target, budget, out, log)

    keras_res.pop("model")
    summary = {
        "config": {"quick": config.quick, "seed": config.seed, "budget": budget.__dict__},
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
