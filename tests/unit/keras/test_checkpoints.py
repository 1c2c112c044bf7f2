"""Checkpoints of the loop: best.keras, latest.npz (ftcore.keras.resume) and resuming by variable path."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from ftcore.errors import InvalidFileError, MismatchError
from ftcore.keras import fine_tune, head_stage, unfreeze_stage
from ftcore.keras.resume import Progress, read_latest, variable_paths, write_latest
from tests.helpers.keras_nets import build_net, data_for
from tests.helpers.keras_nets import tiny_net as _tiny


class _Interrupt(Exception):
    pass


class _StopAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise _Interrupt


@pytest.mark.slow
def test_resume_from_latest_checkpoint_matches_an_uninterrupted_run(tmp_path):
    """Stop in the middle of the (cached) head stage, then in the middle of stage 2; resuming
    gives the weights of a run never stopped (optimizer momentum included), and best.keras
    is a loadable full model."""
    spec = {"kind": "dense", "blocks": [(3, False, False), (3, True, False)], "head_bn": False}
    stages = [head_stage(3, 0.05, "momentum"), unfreeze_stage(0, 3, 0.05, "momentum")]
    x, y = data_for(build_net(spec), 16)

    def run(ckpt, **kw):
        model = build_net(spec)
        fine_tune(model, x, y, stages, batch_size=8, shuffle=False, checkpoint_dir=ckpt, **kw)
        return model

    def state():
        progress = read_latest(tmp_path / "b").progress
        return progress.stage, progress.epoch

    reference = run(tmp_path / "a")
    with pytest.raises(_Interrupt):
        run(tmp_path / "b", callbacks=[_StopAt(0)])
    assert state() == (0, 1)
    with pytest.raises(_Interrupt):  # head epochs 1-2 resume; stops after stage 2's epoch 0
        run(tmp_path / "b", resume=True, callbacks=[_StopAt(0)])
    assert state() == (1, 1)
    resumed = run(tmp_path / "b", resume=True)
    for a, b in zip(reference.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    best = keras.models.load_model(tmp_path / "b" / "best.keras")
    assert best.output.shape == (None, 3)


def _renamed(model, old, new):
    """``model`` with layer ``old`` called ``new``: the same weights at the same positions."""

    def clone(layer):
        config = layer.get_config()
        if layer.name == old:
            config["name"] = new
        return layer.__class__.from_config(config)

    out = keras.models.clone_model(model, clone_function=clone)
    out.set_weights(model.get_weights())
    return out


def test_latest_is_keyed_by_variable_path(tmp_path):
    model = _tiny()
    write_latest(tmp_path, model, Progress(1, 2, 0.5))
    latest = read_latest(tmp_path)
    assert latest.progress == Progress(1, 2, 0.5) and latest.optimizer is None
    assert sorted(latest.weights) == sorted(variable_paths(model))
    assert "b1_bn/moving_mean" in latest.weights and "head_logits/kernel" in latest.weights
    for key, v in variable_paths(model).items():
        np.testing.assert_array_equal(latest.weights[key], v.numpy())


def test_resume_into_a_changed_model_is_refused_naming_the_variables(tmp_path):
    """A renamed layer keeps every shape and position, which a positional file resumed
    silently; by path it is refused, and no weight of the model is touched."""
    x, y = data_for(_tiny(), 8)
    fine_tune(_tiny(), x, y, [head_stage(1)], checkpoint_dir=tmp_path)
    other = _renamed(_tiny(seed=1), "b0_dense", "stem")
    before = [w.copy() for w in other.get_weights()]
    with pytest.raises(MismatchError) as info:
        fine_tune(other, x, y, [head_stage(1)], checkpoint_dir=tmp_path, resume=True)
    message = str(info.value)
    assert "latest.npz does not fit model" in message
    assert "the file lacks 2 model variables: stem/bias, stem/kernel" in message
    assert "the model lacks 2 file variables: b0_dense/bias, b0_dense/kernel" in message
    for a, b in zip(before, other.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_resume_into_a_model_of_other_shapes_is_refused(tmp_path):
    x, y = data_for(_tiny(), 8)
    fine_tune(_tiny(), x, y, [head_stage(1)], checkpoint_dir=tmp_path)
    other = build_net({"kind": "dense", "blocks": [(4, False, False)], "head_bn": False})
    with pytest.raises(
        MismatchError, match=r"shapes differ: b0_dense/bias \(file \(3,\), model \(4,\)\)"
    ):
        fine_tune(other, x, y, [head_stage(1)], checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(TypeError, match="resume=True needs checkpoint_dir"):
        fine_tune(other, x, y, [head_stage(1)], resume=True)


def test_resume_with_another_optimizer_is_refused(tmp_path):
    x, y = data_for(_tiny(), 16)
    with pytest.raises(_Interrupt):
        fine_tune(
            _tiny(),
            x,
            y,
            [head_stage(2, 0.05, "momentum")],
            batch_size=8,
            checkpoint_dir=tmp_path,
            callbacks=[_StopAt(0)],
        )
    assert read_latest(tmp_path).optimizer["class"] == "SGD"
    with pytest.raises(
        MismatchError, match="optimizer state does not fit .* it was SGD, the stage's is Adam"
    ):
        fine_tune(
            _tiny(),
            x,
            y,
            [head_stage(2, 0.05, "adam")],
            batch_size=8,
            checkpoint_dir=tmp_path,
            resume=True,
        )


def test_a_positional_latest_from_an_older_ftcore_is_refused(tmp_path):
    state = np.array('{"stage": 0, "epoch": 1, "best": null}')
    np.savez(tmp_path / "latest.npz", state=state, w0=np.zeros(3))
    with pytest.raises(InvalidFileError, match="not a format-2 ftcore resume file .* found none"):
        fine_tune(
            _tiny(), *data_for(_tiny(), 8), [head_stage(1)], checkpoint_dir=tmp_path, resume=True
        )
