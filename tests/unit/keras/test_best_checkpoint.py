"""``best.keras`` is the whole model at its best epoch: every layer (base and head) with the
weights it had when the monitored loss was lowest, also when the epoch that won was one of a
cached-feature head stage (where the model being fit is the head alone)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from ftcore.keras import fine_tune, head_stage, unfreeze_stage
from ftcore.keras.trainable import leaves
from tests.helpers.keras_nets import build_net, data_for

SPEC = {"kind": "dense", "blocks": [(3, False, False), (3, True, False)], "head_bn": False}


class _Record(keras.callbacks.Callback):
    """After each epoch: (the monitored value, every leaf layer's weights of ``target``)."""

    def __init__(self, target: keras.Model, monitor: str, epochs: list):
        super().__init__()
        self.target, self.monitor, self.epochs = target, monitor, epochs

    def on_epoch_end(self, epoch, logs=None):
        weights = {
            path: [np.copy(w) for w in layer.get_weights()] for path, layer in leaves(self.target)
        }
        self.epochs.append((float(logs[self.monitor]), weights))


@pytest.mark.parametrize("winner", ["head", "unfreeze"])
def test_best_keras_is_the_whole_model_at_its_best_epoch(tmp_path, winner):
    """``winner``: the stage whose epoch has the lowest validation loss (a large second-stage
    rate makes stage 2 worse than the cached head stage; a small one improves on it)."""
    model = build_net(SPEC)
    x, y = data_for(model, 32)
    xv, yv = data_for(model, 16, seed=1)
    stages = [
        head_stage(3, 0.05, "momentum"),
        unfreeze_stage(0, 2, 0.05 if winner == "unfreeze" else 5.0, "momentum"),
    ]
    epochs: list = []
    fine_tune(
        model, x, y, stages, validation_data=(xv, yv), batch_size=8, shuffle=False,
        checkpoint_dir=tmp_path, callbacks=[_Record(model, "val_loss", epochs)],
    )  # fmt: skip
    losses = [loss for loss, _ in epochs]
    best_epoch = int(np.argmin(losses))
    assert (best_epoch < 3) == (winner == "head"), losses
    best = keras.models.load_model(tmp_path / "best.keras", compile=False)
    want = epochs[best_epoch][1]
    got = {path: layer.get_weights() for path, layer in leaves(best)}
    assert list(got) == [path for path, _ in leaves(model)]  # every layer, base and head
    assert sum(len(w) for w in got.values()) == len(model.weights)
    for path, weights in want.items():
        assert len(got[path]) == len(weights), path
        for a, b in zip(got[path], weights, strict=True):
            np.testing.assert_array_equal(a, b, err_msg=path)
    np.testing.assert_allclose(
        best.predict(xv, verbose=0), _predict_with(model, want, xv), atol=1e-6
    )


def _predict_with(model: keras.Model, weights: dict, x: np.ndarray) -> np.ndarray:
    clone = keras.models.clone_model(model)
    for path, layer in leaves(clone):
        layer.set_weights(weights[path])
    return clone.predict(x, verbose=0)
