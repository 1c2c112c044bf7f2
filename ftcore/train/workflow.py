"""``ftcore train``: a folder of class subfolders in, a verified fine-tuned model out.

Every check runs before the run folder is made (options, folder scan and image checks, the
split, the backbone and its weights, the ``--cut`` and ``--unfreeze-from`` layers), so a
refused run leaves nothing behind. After that, a run that stops leaves a ``FAILED`` marker
saying why; every file is written atomically, so no model file is ever half-written.
``--resume`` reuses the run's ``split.json`` (refused if the folder changed since) and its
checkpoints. ``--assert-accuracy-at-least`` refuses before exporting.

``train(TrainConfig("photos", output="runs/parts"))`` returns the report (``report.json``).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path

from ftcore.errors import FtcoreError
from ftcore.train.backbone import backbone_spec, load_base
from ftcore.train.config import TrainConfig
from ftcore.train.model import build_model, stages_for
from ftcore.train.report import best_of, write_report
from ftcore.train.run_folder import RunFolder, default_run_dir, write_readable

__all__ = ["AccuracyGateError", "train"]


class AccuracyGateError(FtcoreError):
    """The validation accuracy is below ``--assert-accuracy-at-least``: nothing exported."""


def train(config: TrainConfig, log: Callable[[str], None] = print) -> dict:
    """Run one training (see the module docstring); returns the report."""
    config.check()
    run = RunFolder(Path(config.output) if config.output else default_run_dir())
    run.check(config.resume)
    if config.resume:
        changed = config.differences(run.stored_config())
        if changed:
            raise FtcoreError(
                f"--resume of {run.path} with other options than the run was started with: "
                + "; ".join(changed)
            )
    folder, split = _folder_and_split(config, run)
    with _deterministic(config.seed):
        model, stages, origin = _model(config, len(split.class_names))
        run.create(config.resume)
        if not config.resume:
            write_readable(run.config, json.dumps(config.to_dict(), indent=1) + "\n")
            from ftcore.data import write_split

            write_split(run.split, split)
        log(f"run folder: {run.path}")
        try:
            return _run(config, run, folder, split, model, stages, origin, log)
        except BaseException as e:
            run.mark_failed(e)
            raise


@contextlib.contextmanager
def _deterministic(seed: int):
    """Seed Python, NumPy and TensorFlow and turn on op determinism for the block only (the
    same seed then gives the same run); the process's determinism setting is restored after."""
    import keras
    from tensorflow.python.framework import config as tf_config

    before = tf_config.is_op_determinism_enabled()
    keras.utils.set_random_seed(seed)
    tf_config.enable_op_determinism()
    try:
        yield
    finally:
        if not before:
            tf_config.disable_op_determinism()


def _folder_and_split(config: TrainConfig, run: RunFolder):
    """The checked folder and its split: new, or (``--resume``) the run's, if nothing changed."""
    from ftcore.data import SplitMismatchError, load_folder, make_split, read_split

    folder = load_folder(config.data_dir, skip_bad=config.skip_bad)
    if not config.resume:
        split = make_split(
            folder.files,
            folder.class_names,
            config.validation_split,
            config.test_split,
            config.seed,
        )
        return folder, split
    split = read_split(run.split, config.data_dir)  # missing or changed files: refused
    added = sorted({f.path for f in folder.files} - {f.path for f in split.files})
    if added or tuple(folder.class_names) != tuple(split.class_names):
        lines = [
            f"split file {run.split} no longer matches the folder {config.data_dir}: "
            f"{len(added)} file{'' if len(added) == 1 else 's'} added since the run started"
            + ("" if added else f"; classes now {list(folder.class_names)}")
        ]
        raise SplitMismatchError("\n".join(lines + [f"  added: {p}" for p in added]))
    return folder, split


def _model(config: TrainConfig, num_classes: int):
    """The model (seeded by :func:`_deterministic`), its checked stages, where its weights
    came from."""
    base, origin = load_base(
        backbone_spec(config.backbone, config.weights, config.alpha), config.image_size
    )
    model = build_model(config, base, num_classes)
    return model, stages_for(config, model), origin


def _run(config, run, folder, split, model, stages, origin, log) -> dict:
    from ftcore.data import SPLITS
    from ftcore.keras.resume import read_latest
    from ftcore.train import steps
    from ftcore.train.epoch_log import EpochLog, first_stage_to_run, read_history

    t0 = time.perf_counter()
    counts = split.counts()
    for which, per_class in counts.items():
        log(f"{which}: {sum(per_class.values())} images {per_class}")
    for bad in folder.bad:
        log(f"skipped (--skip-bad): {bad}")
    kept = [w for w in SPLITS if w in counts and (w != "train" or config.int8)]
    if kept:  # small subsets: metrics (validation, test), int8 calibration (train)
        log(f"loading the {' and '.join(kept)} images for evaluation ...")
    data = {w: steps.arrays(split, folder.root, w, config) for w in kept}
    found = read_latest(run.checkpoints) if config.resume else None
    state = {"stage": found.progress.stage, "epoch": found.progress.epoch} if found else None
    first = first_stage_to_run(stages, state)
    if found:
        log(f"resuming from {found.path}: stage {state['stage'] + 1}, {state['epoch']} epochs done")
    log(f"training: {' then '.join(f'{s.name} ({s.epochs} epochs)' for s in stages)} ...")
    result = steps.fit(
        model, stages, split, folder.root, run, config, [EpochLog(run.history, stages, first, log)]
    )
    history = read_history(run.history)
    best_model = steps.load_best(run, model)
    report = {
        "status": "trained",
        "data_dir": str(Path(config.data_dir).resolve()),
        "configuration": config.to_dict(),
        "class_names": list(split.class_names),
        "class_counts": counts,
        "bad_files_skipped": [str(b) for b in folder.bad],
        "duplicates": [list(d) for d in folder.duplicates],
        "weights": origin,
        "stages": _stages(stages, result, dict(history)),
        "best": _best(result, history),
        "validation": steps.evaluate(
            best_model, data, "validation", split.class_names, config.batch_size
        )
        if "validation" in data
        else None,
    }
    if "test" in data:
        report["test"] = steps.evaluate(
            best_model, data, "test", split.class_names, config.batch_size
        )
    _gate(config, run, report, log)
    report["learning_curves"] = _curves(history, run, log)
    report["exports"] = steps.export(best_model, data, run, config, split.class_names, log)
    report["status"] = "exported"
    report["seconds"] = round(time.perf_counter() - t0, 1)
    return write_report(run, report)


def _best(result, history) -> dict | None:
    """The best epoch: where fine_tune's restored best weights came from (FineTuneResult.best,
    the model ``best.keras`` holds), else (no epoch ran since a resume) from the history."""
    b = result.best
    if b is None:
        return best_of(history)
    before = 0
    for name, h in history:
        if name == b.name:
            break
        before += len(h.get("loss", []))
    return {
        "monitor": "val_loss",
        "value": b.val_loss,
        "stage": b.name,
        "epoch_in_stage": b.epoch,
        "epoch_overall": before + b.epoch,
    }


def _stages(stages, result, history: dict) -> list[dict]:
    ran = {s.name: s for s in result.stages if not s.skipped}
    return [
        {
            "name": s.name,
            "epochs": s.epochs,
            "learning_rate": s.learning_rate,
            "optimizer": s.optimizer,
            "unfreeze_from": s.unfreeze_from,
            "history": history.get(s.name, {}),
            "cached_features": ran[s.name].cached if s.name in ran else None,
            "cache_blockers": ran[s.name].cache_blockers if s.name in ran else None,
        }
        for s in stages
    ]


def _gate(config: TrainConfig, run: RunFolder, report: dict, log) -> None:
    """``--assert-accuracy-at-least``: refuse (report written, nothing exported) below it."""
    floor = config.assert_accuracy_at_least
    if floor is None:
        return
    accuracy = report["validation"]["accuracy"]
    report["gate"] = {"assert_accuracy_at_least": floor, "passed": accuracy >= floor}
    if accuracy >= floor:
        log(f"validation accuracy {accuracy:.4f} >= {floor} (--assert-accuracy-at-least)")
        return
    report["status"] = "refused"
    write_report(run, report)
    raise AccuracyGateError(
        f"validation accuracy {accuracy:.4f} is below --assert-accuracy-at-least {floor}: "
        f"nothing exported (best model in {run.best}, report in {run.report})"
    )


def _curves(history, run: RunFolder, log) -> str | None:
    from ftcore.evaluate import PlotsUnavailableError, plot_learning_curves

    if not history:
        return None
    try:
        return plot_learning_curves(history, run.curves).name
    except PlotsUnavailableError as e:
        log(f"no learning-curves picture: {e}")
        return None
