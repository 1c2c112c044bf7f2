"""Graph fine-tuning: frozen-base invariants, unfreezing at a lower rate, data sources,
TensorBoard summaries, init-order detection, and saving a checkpoint that restores through
methods 1 and 2."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from ftcore.errors import MismatchError, UnknownNameError
from ftcore.graph.checkpoint_files import checkpoint_contents, read_checkpoint_value
from ftcore.graph.finetune import HEAD_SCOPE, GraphFineTuner, attach_graph_head
from ftcore.graph.nets.slim_mobilenet_v2 import mobilenet_v2_base
from ftcore.graph.restore import restore_built_graph, restore_meta_graph
from ftcore.graph.var_selection import ancestor_variables, in_scope
from tests.helpers.graph_nets import DM, SIZE, TARGET, build_slim, images

v1 = tf.compat.v1

UNFROZEN = "MobilenetV2/expanded_conv_14"
HEAD_LR, BASE_LR, STEPS = 1e-2, 1e-4, 3
X, Y = images(16, seed=1), np.arange(16) % 3


def checkpoint_values(ckpt) -> dict[str, np.ndarray]:
    return {i.name: read_checkpoint_value(ckpt, i.name) for i in checkpoint_contents(ckpt)}


def current(ft: GraphFineTuner, names) -> dict[str, np.ndarray]:
    return {n: ft.value(n) for n in names}


@dataclass
class Run:
    """Snapshots of one fine-tuning scenario: head phase, then an unfrozen block."""

    ckpt: dict[str, np.ndarray]
    head_init: dict[str, np.ndarray]
    head_phase: dict[str, np.ndarray]
    unfrozen_phase: dict[str, np.ndarray]
    head_names: list[str]
    unfrozen_names: list[str]
    losses: list[float]
    logdir: str
    saved: str
    logits: np.ndarray


def scenario(ft: GraphFineTuner, slim_ckpt: str, out) -> Run:
    ckpt = checkpoint_values(slim_ckpt)
    names = [n for n in ckpt if n != "global_step"]
    head_names = list(ft.trained_variables)
    head_init = current(ft, head_names)
    losses = ft.fit((X, Y), steps=STEPS, batch_size=8, logdir=out / "logs")
    head_phase = current(ft, names + head_names)
    ft.unfreeze(UNFROZEN, learning_rate=BASE_LR)
    ft.fit((X, Y), steps=STEPS, batch_size=8)
    unfrozen = [n for n in ft.trained_variables if n not in head_names]
    return Run(
        ckpt,
        head_init,
        head_phase,
        current(ft, names + head_names),
        head_names,
        unfrozen,
        losses,
        str(out / "logs"),
        ft.save(out / "finetuned"),
        ft.predict(X),
    )


@pytest.fixture(scope="module")
def eval_run(slim_ckpt, tmp_path_factory) -> Run:
    """Method 1 (the eval graph from .meta), BN in inference mode."""
    with GraphFineTuner.from_meta(slim_ckpt, TARGET, num_classes=3, learning_rate=HEAD_LR) as ft:
        assert {v.op.name for v in ft.var_list} == {
            v.op.name for v in ancestor_variables(ft.graph, TARGET)
        }
        return scenario(ft, slim_ckpt, tmp_path_factory.mktemp("eval_run"))


@pytest.fixture(scope="module")
def train_mode_run(slim_ckpt, tmp_path_factory) -> Run:
    """Method 2 with is_training=True: BN uses batch statistics and has moving-average updates."""
    with GraphFineTuner.from_builder(
        lambda: build_slim(is_training=True),
        slim_ckpt,
        TARGET,
        num_classes=3,
        learning_rate=HEAD_LR,
    ) as ft:
        return scenario(ft, slim_ckpt, tmp_path_factory.mktemp("train_run"))


RUNS = ["eval_run", "train_mode_run"]


@pytest.mark.slow
@pytest.mark.parametrize("run_name", RUNS)
def test_with_the_base_frozen_every_base_variable_is_bitwise_the_checkpoint(run_name, request):
    run: Run = request.getfixturevalue(run_name)
    base = [n for n in run.ckpt if n != "global_step"]
    assert any("moving_mean" in n for n in base)
    for name in base:
        assert run.head_phase[name].tobytes() == run.ckpt[name].tobytes(), name
    for name in run.head_names:
        assert in_scope(name, HEAD_SCOPE)
    assert {n.rsplit("/", 1)[1] for n in run.head_names} == {"weights", "biases"}


@pytest.mark.slow
@pytest.mark.parametrize("run_name", RUNS)
def test_every_trained_variable_changed(run_name, request):
    run: Run = request.getfixturevalue(run_name)
    assert run.unfrozen_names and all(in_scope(n, UNFROZEN) for n in run.unfrozen_names)
    for name in run.unfrozen_names:
        assert not np.array_equal(run.unfrozen_phase[name], run.ckpt[name]), name
    for name in run.head_names:  # changed again in the second phase
        assert not np.array_equal(run.unfrozen_phase[name], run.head_phase[name]), name


@pytest.mark.slow
@pytest.mark.parametrize("run_name", RUNS)
def test_unfreezing_keeps_everything_else_and_uses_the_lower_rate(run_name, request):
    run: Run = request.getfixturevalue(run_name)
    trainable_unfrozen = set(run.unfrozen_names)
    for name in run.ckpt:
        if name == "global_step" or name in trainable_unfrozen:
            continue
        stats_updated = run_name == "train_mode_run" and in_scope(name, UNFROZEN)
        if stats_updated:  # moving statistics of the unfrozen block follow its batches
            assert "moving_" in name
            assert not np.array_equal(run.unfrozen_phase[name], run.ckpt[name]), name
        else:
            assert run.unfrozen_phase[name].tobytes() == run.ckpt[name].tobytes(), name
    # Adam moves each parameter by at most ~learning_rate per step
    for name in run.unfrozen_names:
        step = np.abs(run.unfrozen_phase[name] - run.ckpt[name]).max()
        assert 0 < step <= STEPS * BASE_LR * 1.01, (name, step)
    head_step = max(np.abs(run.head_phase[n] - run.head_init[n]).max() for n in run.head_names)
    assert head_step > 10 * STEPS * BASE_LR


@pytest.mark.slow
def test_tensorboard_events_hold_the_loss_and_weight_histograms(eval_run):
    events = list(Path(eval_run.logdir).glob("events.out.tfevents.*"))
    assert len(events) == 1
    scalars, histograms = {}, set()
    for event in v1.train.summary_iterator(str(events[0])):
        for value in event.summary.value:
            if value.HasField("histo"):
                histograms.add(value.tag)
                assert value.histo.num > 0
            elif value.HasField("simple_value"):
                scalars[event.step] = value.simple_value
    assert list(scalars) == [1, 2, 3]
    np.testing.assert_allclose(list(scalars.values()), eval_run.losses, rtol=1e-6)
    head = {t for t in histograms if t.startswith(f"summaries/{HEAD_SCOPE}/")}
    base = {t for t in histograms if t.startswith("summaries/MobilenetV2/")}
    assert {t.rsplit("/", 1)[1] for t in head} == {"weights", "biases"}
    assert len(base) == 3  # a few frozen base weights


@pytest.mark.slow
@pytest.mark.parametrize("run_name", RUNS)
def test_the_saved_checkpoint_restores_through_methods_1_and_2(run_name, request):
    run: Run = request.getfixturevalue(run_name)
    with restore_meta_graph(run.saved) as net:
        np.testing.assert_array_equal(net.run(f"{HEAD_SCOPE}/logits", {"input": X}), run.logits)

    def build():
        x = v1.placeholder(tf.float32, [None, SIZE, SIZE, 3], name="input")
        _, ends = mobilenet_v2_base(
            x,
            DM,
            is_training=run_name == "train_mode_run",
            final_endpoint="expanded_conv_14/output",
        )
        attach_graph_head(ends["expanded_conv_14/output"], num_classes=3)

    with restore_built_graph(build, run.saved) as net:
        assert net.plan.complete and "global_step" in net.plan.checkpoint_only
        np.testing.assert_array_equal(net.run(f"{HEAD_SCOPE}/logits", {"input": X}), run.logits)


def test_training_from_a_tf_data_pipeline_stops_when_it_ends(slim_ckpt):
    data = tf.data.Dataset.from_tensor_slices((X, Y)).batch(8).take(2)
    with GraphFineTuner.from_meta(slim_ckpt, TARGET, num_classes=3) as ft:
        losses = ft.fit(data, steps=10)
        assert len(losses) == 2 and all(np.isfinite(losses))
        assert int(ft.session.run(ft.global_step)) == 2


@pytest.mark.slow
def test_bad_targets_scopes_and_checkpoints_are_clear_errors(slim_ckpt):
    with pytest.raises(UnknownNameError, match="closest: 'MobilenetV2/expanded_conv_14/output:0'"):
        GraphFineTuner.from_meta(slim_ckpt, "MobilenetV2/expanded_conv_14/outptu", num_classes=3)
    with GraphFineTuner.from_meta(slim_ckpt, TARGET, num_classes=3) as ft:
        with pytest.raises(UnknownNameError, match="unknown scope 'MobilenetV2/expanded_conv_41'"):
            ft.unfreeze("MobilenetV2/expanded_conv_41", 1e-4)
        with pytest.raises(MismatchError, match="already trained by an earlier stage"):
            ft.unfreeze(HEAD_SCOPE, 1e-4)
        with pytest.raises(MismatchError, match=r"integers in \[0, 3\) .* values \[3, 4\]"):
            ft.fit((X, np.arange(16) % 5), steps=1)
        # "restore, then global init" clobbers the restored base: fit refuses to train
        with ft.graph.as_default():
            ft.session.run(v1.global_variables_initializer())
        with pytest.raises(MismatchError, match="re-initialized after the restore"):
            ft.fit((X, Y), steps=1)

    def wider():  # a base the checkpoint cannot fill
        x = v1.placeholder(tf.float32, [None, SIZE, SIZE, 3], name="input")
        mobilenet_v2_base(x, 0.5, final_endpoint="expanded_conv_14/output")

    with pytest.raises(
        MismatchError, match=f"cannot restore .* variables the target {TARGET}:0 needs"
    ):
        GraphFineTuner.from_builder(wider, slim_ckpt, TARGET, num_classes=3)


def test_the_state_file_writer_and_reader_agree(tmp_path):
    """write_state names a checkpoint relatively; read_state and resolve_checkpoint find it."""
    from ftcore.graph.checkpoint_files import read_state, write_state

    assert read_state(tmp_path) is None
    write_state(tmp_path, "model.ckpt-7")
    assert read_state(tmp_path) == str(tmp_path / "model.ckpt-7")
    (tmp_path / "checkpoint").write_text("model_checkpoint_path: \x00 not a proto")
    assert read_state(tmp_path) is None  # unreadable: resolve_checkpoint falls back to indexes


def test_training_and_restoring_values_train_as_their_keywords(slim_ckpt):
    """``training=Training(...)`` and the older keywords build and train the same model."""
    from ftcore.graph import Restoring, Training

    runs = []
    for kwargs in (
        {"learning_rate": HEAD_LR, "seed": 3, "strict": True},
        {"training": Training(learning_rate=HEAD_LR, seed=3), "restoring": Restoring()},
    ):
        with GraphFineTuner.from_meta(slim_ckpt, TARGET, num_classes=3, **kwargs) as ft:
            losses = ft.fit((X, Y), steps=2, batch_size=8)
            runs.append((losses, ft.value(f"{HEAD_SCOPE}/weights")))
    np.testing.assert_allclose(runs[0][0], runs[1][0], rtol=1e-6)
    np.testing.assert_allclose(runs[0][1], runs[1][1], rtol=1e-6, atol=1e-7)


def test_graph_fine_tuner_keywords_are_checked_before_any_graph_work():
    from ftcore.graph import Training

    with pytest.raises(
        UnknownNameError, match="GraphFineTuner keyword 'learning_rat'.*'learning_rate'"
    ):
        GraphFineTuner(tf.Graph(), None, "x", 2, learning_rat=0.1)
    with pytest.raises(TypeError, match="both training= and seed="):
        GraphFineTuner(tf.Graph(), None, "x", 2, training=Training(), seed=1)
