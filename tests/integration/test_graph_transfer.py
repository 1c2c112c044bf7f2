"""The seed recipe's TF workflow on the pretrained slim checkpoint: cut at expanded_conv_14/output,
train a new head on the few-label target task, unfreeze the last blocks at a lower rate;
restore the fine-tuned checkpoint through methods 1 and 2.

The tests assert invariants, not a margin over a baseline: only the head and the unfrozen
blocks differ from the pretrained checkpoint (BN statistics untouched), both restore methods
give the same logits, and the result is far above chance (5 classes: 0.20). The held-out
accuracy over seeds 0-4 (2-core AMD EPYC under load) was 0.706 +/- 0.009, min 0.694, and the
same graph trained from scratch predicted one class (0.201) every time; FLOOR sits far under the
minimum because the fixtures themselves differ across machines (TF's CPU kernels). Fine-tuned
vs from scratch is a measurement: ``benchmarks/transfer_study.py`` (genuine ImageNet weights,
real MNIST, mean +/- sd).

Reproduce the figure: pytest tests/integration/test_graph_transfer.py -s -q
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import tensorflow as tf

from ftcore.graph.checkpoint_files import (
    checkpoint_contents,
    read_checkpoint_value,
)
from ftcore.graph.finetune import HEAD_SCOPE, GraphFineTuner, attach_graph_head
from ftcore.graph.nets.slim_mobilenet_v2 import mobilenet_v2_base
from ftcore.graph.restore import restore_built_graph, restore_meta_graph
from ftcore.graph.var_selection import in_scope
from ftcore_fixtures.digits import target_task

pytestmark = [pytest.mark.integration, pytest.mark.slow]

v1 = tf.compat.v1

TARGET = "MobilenetV2/expanded_conv_14/output"
UNFROZEN = ["MobilenetV2/expanded_conv_13", "MobilenetV2/expanded_conv_14"]
STEPS, BATCH, LR = 60, 25, 3e-2  # 60 steps of 25 images, half of them after the unfreeze
LOGITS = f"{HEAD_SCOPE}/logits"
FLOOR = 0.35  # chance 0.20; measured 0.706 +/- 0.009 (module docstring)


@dataclass
class Finetuned:
    accuracy: float
    saved: str
    test_logits: np.ndarray


@pytest.fixture(scope="module")
def task(pretrained):
    return target_task(size=pretrained.image_size)


@pytest.fixture(scope="module")
def finetuned(pretrained, task, tmp_path_factory) -> Finetuned:
    data = (task.x_train, task.y_train)
    with GraphFineTuner.from_meta(
        pretrained.slim_ckpt_dir, TARGET, task.num_classes, learning_rate=LR
    ) as ft:
        ft.fit(data, STEPS // 2, BATCH)
        ft.unfreeze(UNFROZEN, learning_rate=LR / 10)
        ft.fit(data, STEPS - STEPS // 2, BATCH, seed=1)
        saved = ft.save(tmp_path_factory.mktemp("graph_transfer") / "finetuned")
        return Finetuned(ft.evaluate(task.x_test, task.y_test), saved, ft.predict(task.x_test))


def test_finetuned_is_far_above_chance(task, finetuned):
    print(
        f"\ngraph transfer, digits 5-9 with {len(task.y_train)} labels, {STEPS} steps x {BATCH}: "
        f"fine-tuned {finetuned.accuracy:.3f}, chance {1 / task.num_classes:.3f}"
    )
    assert finetuned.accuracy >= FLOOR


def test_the_finetuned_checkpoint_restores_through_methods_1_and_2(pretrained, task, finetuned):
    x = task.x_test[:64]
    with restore_meta_graph(finetuned.saved) as net:
        method1 = net.run(LOGITS, {"input": x})

    def build():
        inputs = v1.placeholder(tf.float32, [None, 32, 32, 3], name="input")
        _, ends = mobilenet_v2_base(
            inputs, pretrained.slim_depth_multiplier, final_endpoint="expanded_conv_14/output"
        )
        attach_graph_head(ends["expanded_conv_14/output"], num_classes=task.num_classes)

    with restore_built_graph(build, finetuned.saved) as net:
        assert net.plan.complete
        method2 = net.run(LOGITS, {"input": x})
    np.testing.assert_array_equal(method1, method2)
    np.testing.assert_array_equal(method1, finetuned.test_logits[:64])


def test_only_the_unfrozen_blocks_and_the_head_differ_from_the_pretrained_checkpoint(
    pretrained, finetuned
):
    before = {i.name for i in checkpoint_contents(pretrained.slim_ckpt_dir)}
    after = {i.name for i in checkpoint_contents(finetuned.saved)}
    optimizer_state = {
        n for n in after if "/Adam" in n or n.endswith(("beta1_power", "beta2_power"))
    }
    assert after - before - optimizer_state == {f"{HEAD_SCOPE}/weights", f"{HEAD_SCOPE}/biases"}
    changed = []
    for name in sorted(before - {"global_step"}):
        old = read_checkpoint_value(pretrained.slim_ckpt_dir, name)
        if read_checkpoint_value(finetuned.saved, name).tobytes() != old.tobytes():
            changed.append(name)
    assert changed and all(any(in_scope(n, s) for s in UNFROZEN) for n in changed)
    assert not any("moving_" in n for n in changed)  # eval-mode BN: statistics stay put
