"""SIGKILL real ftcore writers, ``ftcore freeze``, ``fine_tune`` checkpoints and
``GraphFineTuner.save``, at a seeded sample of their commit boundaries and once at a random
moment late in the run (after TensorFlow's import, where the writing happens), over the
complete output of an earlier run. What is left must be complete (the earlier or the new
content; a checkpoint restores to the one or the other wholly), and a rerun succeeds.
``FTCORE_FAULT_SWEEP=all`` tries every boundary."""

from __future__ import annotations

import random
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from ftcore.errors import InvalidFileError
from ftcore.graph.checkpoint_files import resolve_checkpoint
from ftcore.keras.resume import read_latest, restore_weights
from ftcore.sidecar import read_sidecar
from tests.faults.writers import KERAS_EPOCHS, KERAS_SPEC
from tests.helpers.faults import (
    kill_after,
    kill_at,
    partial_files,
    run,
    run_ok,
    trace,
    visible_files,
    writer,
)
from tests.helpers.graph_nets import slim_checkpoint
from tests.helpers.keras_nets import build_net

pytestmark = pytest.mark.slow
BOUNDARY_KILLS = 1  # per writer, plus one at a random moment; all with FTCORE_FAULT_SWEEP=all


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    root = tmp_path_factory.mktemp("ckpts")
    return slim_checkpoint(root, 0), slim_checkpoint(root, 1)


def _restore(src, dst):
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)


def _kills(sweep, seed):
    rng = random.Random(seed)
    late = rng.uniform(0.5, 0.9) * sweep.seconds
    return [("at", n) for n in sweep.points(rng, BOUNDARY_KILLS)] + [("after", late)]


def _kill(cmd, kill, sweep):
    how, when = kill
    kill_at(cmd, when, sweep) if how == "at" else kill_after(cmd, when, sweep)


def test_freeze_killed_leaves_old_or_new_export(tmp_path, ckpts):
    for i, labels in enumerate(["a b c d e", "v w x y z"]):
        (tmp_path / f"labels{i}.txt").write_text("\n".join(labels.split()))
    run_ok(writer("freeze", ckpts[0], tmp_path / "old" / "model.pb", tmp_path / "labels0.txt"))
    _restore(tmp_path / "old", tmp_path / "ref")  # the traced run overwrites, as the kills do
    sweep = trace(
        writer("freeze", ckpts[1], tmp_path / "ref" / "model.pb", tmp_path / "labels1.txt"),
        tmp_path,
    )
    old, new = visible_files(tmp_path / "old"), visible_files(tmp_path / "ref")
    assert sorted(new) == ["model.pb", "model.pb.json"] and old != new
    found, refused = [], 0
    out = tmp_path / "out"
    for kill in _kills(sweep, 0):
        _restore(tmp_path / "old", out)
        _kill(writer("freeze", ckpts[1], out / "model.pb", tmp_path / "labels1.txt"), kill, sweep)
        now = visible_files(out)
        found += partial_files(now, old, new)
        try:  # a graph and a sidecar of different runs are refused, never paired silently
            sidecar = read_sidecar(out / "model.pb")
            assert sidecar.labels == (["v", "w", "x", "y", "z"] if now == new else list("abcde"))
        except InvalidFileError:
            refused += 1
            assert (
                now["model.pb"] == new["model.pb"] and now["model.pb.json"] == old["model.pb.json"]
            )
    print(
        f"freeze: {len(sweep.boundaries)} boundaries; kill points {sweep.tried}; "
        f"partial files {found}; mismatched pairs refused {refused}"
    )
    assert found == []
    run_ok(writer("freeze", ckpts[1], out / "model.pb", tmp_path / "labels1.txt"))
    assert visible_files(out) == new
    assert not list(out.glob(".*")), "the rerun removes killed writes' temporaries"


def _check_keras_checkpoint(directory):
    """Both files load completely: the weights fit the model, the state is there."""
    latest = read_latest(directory)
    restore_weights(build_net(KERAS_SPEC, seed=None), latest)  # every variable, by path
    keras.models.load_model(directory / "best.keras")
    # (stage i, all its epochs) is (stage i + 1, 0): a kill between the last epoch's
    # checkpoint and the end-of-stage one leaves the first, and resuming keeps it
    stage, epoch = latest.progress.stage, latest.progress.epoch
    return (stage + 1, 0) if epoch >= KERAS_EPOCHS else (stage, epoch)


def test_keras_checkpoints_killed_stay_loadable_and_resume(tmp_path):
    run_ok(writer("keras", tmp_path / "old", 1))
    _restore(tmp_path / "old", tmp_path / "ref")
    sweep = trace(writer("keras", tmp_path / "ref", 2), tmp_path)
    final = _check_keras_checkpoint(tmp_path / "ref")
    out = tmp_path / "out"
    for kill in _kills(sweep, 1):
        _restore(tmp_path / "old", out)
        _kill(writer("keras", out, 2), kill, sweep)
        _check_keras_checkpoint(out)
        run_ok(writer("keras", out, 2), env={"RESUME": "1"})
        assert _check_keras_checkpoint(out) == final
    print(
        f"keras: {len(sweep.boundaries)} boundaries; kill points {sweep.tried}; "
        "partial files [] (each load checked)"
    )


def _values(prefix):
    reader = tf.train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def _same(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_graph_save_killed_restores_old_or_new(tmp_path, ckpts):
    run_ok(writer("graph", ckpts[0], tmp_path / "old", 1))
    old_values = _values(resolve_checkpoint(tmp_path / "old"))
    _restore(tmp_path / "old", tmp_path / "ref")
    sweep = trace(writer("graph", ckpts[0], tmp_path / "ref", 2), tmp_path)
    new_values = _values(resolve_checkpoint(tmp_path / "ref"))
    stem = resolve_checkpoint(tmp_path / "ref").rsplit("/", 1)[1]
    assert stem == resolve_checkpoint(tmp_path / "old").rsplit("/", 1)[1], "same step: overwrite"
    assert not _same(old_values, new_values)
    old, new = visible_files(tmp_path / "old"), visible_files(tmp_path / "ref")
    assert len(sweep.boundaries) == 10, "state to backup, 3 files, state to new: 5 moves"
    backup = {k.replace(stem, f"{stem}.previous"): v for k, v in old.items() if k != "checkpoint"}
    found, mixed, out = [], [], tmp_path / "out"
    for kill in _kills(sweep, 2):
        _restore(tmp_path / "old", out)
        _kill(writer("graph", ckpts[0], out, 2), kill, sweep)
        now = visible_files(out)
        state = {
            "checkpoint": now.get("checkpoint")
        }  # which of the versions it names is checked below
        found += partial_files(now, old, new, backup, state)
        values = _values(resolve_checkpoint(out))
        assert _same(values, old_values) or _same(values, new_values)
        for index in out.glob("*.index"):  # any prefix read directly: old, new or an error
            try:
                v = _values(str(index)[: -len(".index")])
            except tf.errors.OpError:
                mixed.append(index.name)
                continue
            if not (_same(v, old_values) or _same(v, new_values)):
                mixed.append(index.name)
    print(
        f"graph save: {len(sweep.boundaries)} boundaries; kill points {sweep.tried}; "
        f"partial files {found}; prefixes mixed when read directly {mixed}"
    )
    assert found == [] and mixed == []
    assert run(writer("graph", ckpts[0], out, 2)).returncode == 0
    assert _same(_values(resolve_checkpoint(out)), new_values)
    assert visible_files(out) == new, "the rerun leaves no backup behind"
