"""The demo's Keras path: the pretrained MobileNet cut at :data:`KERAS_CUT`, the seed recipe's conv
head (a BatchNormalization first on genuine weights: see :func:`ftcore.keras.head.conv_head`),
stage 1 (head only, SGD 0.01), stage 2 (partial unfreeze, SGD 1e-4), with best-model
checkpoints and TensorBoard logs; then the from-scratch baselines on the same budget.
"""

from __future__ import annotations

import time
from pathlib import Path

from ftcore.app.demo_weights import BASELINES, Budget, Weights

KERAS_CUT = "conv_dw_6_relu"


def keras_path(weights: Weights, target, budget: Budget, out: Path, seed: int, log) -> dict:
    """Fine-tune the pretrained Keras backbone in two stages; train the scratch baselines."""
    from ftcore.keras import save_model_atomic

    model = build_model(weights, target, seed, weights.keras_weights)
    acc = _fine_tune(model, target, budget, out, log)
    scratch_acc = keras_baselines(weights, target, budget, seed, log)
    model_path = out / "finetuned.keras"
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


def build_model(weights: Weights, target, seed: int, path):
    """MobileNet cut at :data:`KERAS_CUT` with the conv head, seeded; ``path``: the backbone's
    weights file, or ``None`` for a from-scratch network."""
    import keras

    from ftcore.keras import attach_head, cut, load_backbone

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


def _fine_tune(model, target, budget: Budget, out: Path, log) -> float:
    """Stage 1 (head) and stage 2 (from ``conv_dw_5``); returns the held-out accuracy."""
    from ftcore.keras import fine_tune, head_stage, unfreeze_stage

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
    return acc


def keras_baselines(weights: Weights, target, budget: Budget, seed: int, log) -> dict:
    """Held-out accuracy of each :data:`~ftcore.app.demo_weights.BASELINES` network trained
    from scratch, all layers, on the fine-tuning's budget."""
    import keras

    from ftcore.keras import Stage, fine_tune

    epochs = budget.scratch_epochs or budget.head_epochs + budget.unfreeze_epochs
    scratch_acc = {}
    for kind, momentum in (("as_built", None), ("tuned_bn", 0.9)):
        scratch = build_model(weights, target, seed, None)
        for layer in scratch.layers:  # 0.9: moving statistics converge within a short budget
            if momentum is not None and isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = momentum
        stage = Stage(  # from scratch: its BN layers learn their statistics (train_bn=True)
            "scratch",
            train="all",
            train_bn=True,
            epochs=epochs,
            learning_rate=0.01,
            optimizer="momentum",
        )
        fine_tune(scratch, target.x_train, target.y_train, [stage], verbose=0)
        scratch_acc[kind] = float(scratch.evaluate(target.x_test, target.y_test, verbose=0)[1])
        log(
            f"baseline from scratch ({BASELINES[kind]}), {epochs} epochs: held-out accuracy "
            f"{scratch_acc[kind]:.3f}"
        )
    return scratch_acc
