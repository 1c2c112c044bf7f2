"""The demo's graph path: the slim MobileNetV2 checkpoint, var_list selected up to
:data:`GRAPH_TARGET`, restore plan printed, a new head trained, then :data:`GRAPH_UNFREEZE`
at a lower rate, the fine-tuned checkpoint saved; then the from-scratch baselines on the same
steps.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ftcore.app.demo_weights import BASELINES, Budget, Weights

GRAPH_TARGET = "MobilenetV2/expanded_conv_14/output"
GRAPH_UNFREEZE = ["MobilenetV2/expanded_conv_13", "MobilenetV2/expanded_conv_14"]


def graph_path(weights: Weights, target, budget: Budget, out: Path, seed: int, log) -> dict:
    """Train a new head on the slim checkpoint's graph, then unfreeze the last blocks at a
    lower rate; train the scratch baselines on the same steps."""
    build = graph_builder(weights, seed)
    kwargs = {"learning_rate": weights.graph_lr, "seed": seed}
    with _pretrained_tuner(weights, target, build, kwargs) as ft:
        acc = _fine_tune(ft, weights, target, budget, out, seed, log)
        ckpt = ft.save(out / "checkpoint")
        plan = {
            "to_restore": len(ft.plan.to_restore),
            "graph_only": len(ft.plan.graph_only),
            "checkpoint_only": len(ft.plan.checkpoint_only),
            "mismatched": len(ft.plan.mismatched),
        }
        logits = ft.logits.name
    log(f"fine-tuned held-out accuracy: {acc:.3f}; checkpoint {ckpt}")
    scratch_acc = graph_baselines(target, budget, build, kwargs, seed, log)
    return {
        "finetuned_accuracy": acc,
        "scratch_accuracy": scratch_acc,
        "checkpoint": ckpt,
        "logits": logits,
        "restore_plan": plan,
        "logs": str(out / "logs"),
    }


def graph_builder(weights: Weights, seed: int) -> Callable[..., None]:
    """``build(is_training=False)``: the input placeholder and slim MobileNetV2 up to
    :data:`GRAPH_TARGET` in the default graph, seeded."""
    import tensorflow as tf

    from ftcore.graph.nets.slim_mobilenet_v2 import mobilenet_v2_base

    def build(is_training: bool = False) -> None:
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

    return build


def _pretrained_tuner(weights: Weights, target, build, kwargs: dict):
    """A fine-tuner restoring the slim checkpoint into ``build``'s graph (genuine weights) or
    into the checkpoint's own ``.meta`` (the fixtures)."""
    from ftcore.graph import GraphFineTuner

    if weights.origin == "genuine":  # its .meta takes any image size: method 2 fixes the size
        return GraphFineTuner.from_builder(
            build, weights.slim_ckpt_dir, GRAPH_TARGET, target.num_classes, **kwargs
        )
    # method 1, the seed recipe's: the checkpoint's own .meta
    return GraphFineTuner.from_meta(
        weights.slim_ckpt_dir, GRAPH_TARGET, target.num_classes, **kwargs
    )


def _fine_tune(ft, weights: Weights, target, budget: Budget, out: Path, seed: int, log) -> float:
    """Half the steps on the head, half with :data:`GRAPH_UNFREEZE`; the held-out accuracy."""
    data, half = (target.x_train, target.y_train), budget.graph_steps // 2
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
    return ft.evaluate(target.x_test, target.y_test)


def graph_baselines(target, budget: Budget, build, kwargs: dict, seed: int, log) -> dict:
    """Held-out accuracy of each :data:`~ftcore.app.demo_weights.BASELINES` network trained
    from scratch (the whole MobileNetV2 and the head) for the fine-tuning's steps."""
    from ftcore.graph import GraphFineTuner
    from ftcore.graph.finetune import HEAD_SCOPE

    data, scratch_acc = (target.x_train, target.y_train), {}
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
    return scratch_acc
