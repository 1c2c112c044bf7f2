"""TensorBoard events of the loop: losses per stage, weight histograms that show frozen layers not moving."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from ftcore.keras import fine_tune, head_stage, unfreeze_stage
from ftcore.keras.trainable import trainable_flags
from tests.helpers.keras_nets import data_for
from tests.helpers.keras_nets import tiny_net as _tiny


def _events(directory):
    out = []
    for path in sorted(directory.rglob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.HasField("tensor"):
                    out.append((event.step, value.tag, tf.make_ndarray(value.tensor)))
    return out


@pytest.mark.slow
def test_tensorboard_logs_show_frozen_layers_not_moving(tmp_path):
    model = _tiny()
    x, y = data_for(model, 8)
    fine_tune(
        model,
        x,
        y,
        [head_stage(2), unfreeze_stage("b1_dense", 1)],
        log_dir=tmp_path,
        validation_data=(x, y),
        cache_features=False,
    )
    losses = [e for e in _events(tmp_path / "0_head") if e[1] == "epoch_loss"]
    assert len(losses) == 2 * 2  # train + validation, 2 epochs
    hist = _events(tmp_path / "weights")
    by_tag: dict[str, dict[int, np.ndarray]] = {}
    for step, tag, value in hist:
        by_tag.setdefault(tag, {})[step] = value
    frozen = by_tag["frozen/b0_dense/kernel"]
    assert sorted(frozen) == [0, 1, 2, 3]  # b0 is frozen in both stages
    assert all(np.array_equal(frozen[0], frozen[s]) for s in frozen)
    assert frozen[0][:, 2].sum() == model.get_layer("b0_dense").kernel.numpy().size
    head = by_tag["trainable/head_logits/kernel"]
    assert not np.array_equal(head[0], head[2])
    b1 = by_tag["frozen/b1_dense/kernel"], by_tag["trainable/b1_dense/kernel"]
    assert sorted(b1[0]) == [0, 1, 2] and sorted(b1[1]) == [3]
    assert not np.array_equal(b1[0][2], b1[1][3])  # moved once unfrozen
    assert trainable_flags(model)["b1_dense"]
