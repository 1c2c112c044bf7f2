"""The restore plan of a fine-tuned graph leaves the new head out, on a small graph built here
(before, only an integration test on genuine weights saw it): a checkpoint that itself holds a
head of the same name and shapes (a model fine-tuned before) restores the base, never the head,
and the head starts from its own initializer."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from ftcore.graph import GraphFineTuner
from ftcore.graph.var_selection import in_scope
from tests.helpers.graph_nets import save_raw_checkpoint

v1 = tf.compat.v1
BASE_W = np.arange(6, dtype=np.float32).reshape(1, 1, 3, 2) / 10


def build() -> None:
    """input [N, 4, 4, 3] -> base/w (1x1 conv to 2 channels) -> base/out."""
    x = v1.placeholder(tf.float32, [None, 4, 4, 3], name="input")
    with v1.variable_scope("base"):
        w = v1.get_variable("w", [1, 1, 3, 2])
        tf.nn.relu(tf.nn.conv2d(x, w, 1, "SAME"), name="out")


@pytest.mark.parametrize("head_scope", ["finetune_layers", "my_head"])
def test_the_new_heads_variables_are_not_restored(tmp_path, head_scope):
    old_head = {  # what a previous fine-tuning of this graph saved: same names, same shapes
        f"{head_scope}/weights": np.full((2, 3), 5.0, np.float32),
        f"{head_scope}/biases": np.full((3,), 5.0, np.float32),
    }
    prefix = save_raw_checkpoint(tmp_path / "ckpt", {"base/w": BASE_W, **old_head})
    with GraphFineTuner.from_builder(build, prefix, "base/out", 3, head_scope=head_scope) as ft:
        plan = ft.plan
        planned = [g for g, _ in plan.to_restore] + list(plan.graph_only)
        planned += [m.graph_name for m in plan.mismatched]
        assert [g for g, _ in plan.to_restore] == ["base/w"]
        assert not [n for n in planned if in_scope(n, head_scope)], plan.report()
        assert sorted(plan.checkpoint_only) == sorted(old_head)
        np.testing.assert_array_equal(ft.value("base/w"), BASE_W)
        for name in old_head:
            assert not np.any(ft.value(name) == 5.0), f"{name} was restored from the checkpoint"
        assert np.all(ft.value(f"{head_scope}/biases") == 0)  # its zeros initializer
