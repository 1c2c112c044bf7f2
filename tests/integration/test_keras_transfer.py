"""The Keras path end to end on the real fixture: pretrained MobileNet (alpha 0.25, 32x32) cut
at the seed's ``conv_dw_6_relu``, fine-tuned in two stages (head: SGD momentum 0.01; then from
``conv_dw_5`` at 1e-4) on the few-label target task, against the same network trained from
scratch on the same data, epochs, optimizer and Keras defaults.

Measured caveat, printed by the test: the scratch model's margin comes from its BatchNorm
moving statistics, which do not converge in 70 short epochs at Keras's momentum 0.99. With
momentum 0.9 the scratch model reaches ~0.76-0.81 on this fixture, above this fine-tuning
(~0.56-0.60): digits 5-9 are easy to learn from scratch and conv_dw_6 features of a 0-4 model
transfer weakly. That figure is reported, not asserted.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from ftcore.keras import Stage, fine_tune, head_stage, save_model_atomic, unfreeze_stage
from ftcore.keras.backbone import cut, load_backbone
from ftcore.keras.head import attach_head
from ftcore.keras.trainable import leaves
from ftcore_fixtures.digits import target_task

CUT = "conv_dw_6_relu"
HEAD_EPOCHS, UNFREEZE_EPOCHS, LR, BATCH = 60, 10, 0.01, 16
MARGIN = 0.15

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def build(weights, seed: int = 0, bn_momentum: float | None = None) -> keras.Model:
    keras.utils.set_random_seed(seed)
    base = load_backbone("MobileNet", (32, 32, 3), weights, alpha=0.25)
    for layer in base.layers:
        if bn_momentum is not None and isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = bn_momentum
    return attach_head(cut(base, CUT), "gap", num_classes=5, dropout=0.2)


def scratch_accuracy(target, bn_momentum: float | None = None) -> float:
    scratch = build(None, bn_momentum=bn_momentum)
    fine_tune(
        scratch,
        target.x_train,
        target.y_train,
        [
            Stage(
                "scratch",
                train="all",
                epochs=HEAD_EPOCHS + UNFREEZE_EPOCHS,
                learning_rate=LR,
                optimizer="momentum",
            )
        ],
        batch_size=BATCH,
    )
    return accuracy(scratch, target.x_test, target.y_test)


def accuracy(model, x, y) -> float:
    return float(np.mean(model.predict(x, verbose=0).argmax(axis=1) == y))


@pytest.fixture(scope="module")
def target():
    return target_task(size=32, per_class=10)


@pytest.fixture(scope="module")
def finetuned(pretrained, target, tmp_path_factory):
    model = build(pretrained.keras_weights)
    base_before = {
        p: [w.copy() for w in layer.get_weights()]
        for p, layer in leaves(model)
        if not p.startswith("head_")
    }
    stages = [
        head_stage(HEAD_EPOCHS, LR, "momentum"),
        unfreeze_stage("conv_dw_5", UNFREEZE_EPOCHS, 1e-4, "momentum"),
    ]
    ckpt = tmp_path_factory.mktemp("keras_ckpt")
    result = fine_tune(
        model,
        target.x_train,
        target.y_train,
        stages,
        batch_size=BATCH,
        validation_data=(target.x_test[:100], target.y_test[:100]),
        checkpoint_dir=ckpt,
    )
    return model, result, base_before, ckpt


def test_finetuned_beats_scratch(finetuned, target):
    model, result, _, _ = finetuned
    assert [s.cached for s in result.stages] == [True, False]
    ft = accuracy(model, target.x_test, target.y_test)
    sc = scratch_accuracy(target)
    sc_bn = scratch_accuracy(target, bn_momentum=0.9)
    print(
        f"\nheld-out accuracy ({len(target.y_test)} images, 5 classes, 10 labels per class): "
        f"fine-tuned {ft:.3f}, from scratch {sc:.3f} (same settings); "
        f"from scratch with BN momentum 0.9: {sc_bn:.3f} (reported, not asserted)"
    )
    assert ft >= sc + MARGIN, f"fine-tuned {ft:.3f} vs scratch {sc:.3f}"


def test_frozen_part_is_bitwise_unchanged(finetuned):
    """Layers before conv_dw_5 (BN statistics included) never moved; conv_dw_5 on did."""
    model, _, before, _ = finetuned
    order = [p for p in before]
    k = order.index("conv_dw_5")
    for path in order:
        after = model.get_layer(path).get_weights()
        same = all(np.array_equal(a, b) for a, b in zip(before[path], after, strict=True))
        is_bn = isinstance(model.get_layer(path), keras.layers.BatchNormalization)
        if order.index(path) < k or is_bn:
            assert same, f"{path} changed"
        elif after:
            assert not same, f"{path} did not train"


def test_saved_model_reloads_and_predicts_identically(finetuned, target, tmp_path):
    model, _, _, ckpt = finetuned
    path = save_model_atomic(model, tmp_path / "finetuned.keras")
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(
        loaded.predict(target.x_test, verbose=0), model.predict(target.x_test, verbose=0)
    )
    best = keras.models.load_model(ckpt / "best.keras")
    assert accuracy(best, target.x_test, target.y_test) > 0.4
