"""The demo's "your own images" part: the shipped real digits (UCI, 8x8, upsampled 4x to 32x32
PNG files) written as a folder of class subfolders, then ``ftcore train`` on it end to end
(in-process, :func:`ftcore.train.train`), with the command line a user types for the same run.

    >>> shlex.join(command(Path("digits"), {"epochs": 5, "cut": "conv_dw_6_relu"}))
    'ftcore train digits --epochs 5 --cut conv_dw_6_relu'
"""

from __future__ import annotations

import shlex
from pathlib import Path

from ftcore.app.demo_keras import KERAS_CUT

#: (quick) -> images per class written, stage 1 epochs, stage 1 learning rate, stage 2 epochs.
#: Quick on the fixtures, seeds 0 and 1: validation accuracy 0.87 and 0.83 (chance 0.2).
TRAIN_BUDGETS = {True: (30, 15, 0.05, 1), False: (120, 20, 0.05, 3)}


def write_digits(root: Path, per_class: int) -> Path:
    """``root/<digit>/<index>.png`` for the target digits (5-9): ``per_class`` each, 32x32."""
    import numpy as np
    from PIL import Image

    from ftcore_fixtures.digits import TARGET_DIGITS, load_digits

    images, labels = load_digits()
    for digit in TARGET_DIGITS:
        (root / str(digit)).mkdir(parents=True, exist_ok=True)
        for i in np.flatnonzero(labels == digit)[:per_class]:
            pixels = (images[i].astype(np.float32) * (255 / 16)).round().astype(np.uint8)
            Image.fromarray(pixels.repeat(4, 0).repeat(4, 1), "L").save(
                root / str(digit) / f"{i}.png"
            )
    return root


def command(data: Path, options: dict) -> list[str]:
    """The ``ftcore train`` command line of ``options`` (TrainConfig fields, non-defaults)."""
    argv = ["ftcore", "train", str(data)]
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        argv += [flag] if value is True else [flag, str(value)]
    return argv


def _options(weights, quick: bool, seed: int, run: Path) -> dict:
    _, head_epochs, lr, unfreeze_epochs = TRAIN_BUDGETS[quick]
    if weights.origin == "genuine":
        backbone = {"backbone": "mobilenet-v1-keras"}
    else:
        backbone = {"backbone": "MobileNet", "weights": str(weights.keras_weights)}
        backbone["alpha"] = weights.keras_alpha
    return {
        **backbone,
        "image_size": weights.keras_size,
        "cut": KERAS_CUT,
        "epochs": head_epochs,
        "lr": lr,
        "unfreeze_from": "conv_dw_5",
        "unfreeze_epochs": unfreeze_epochs,
        "seed": seed,
        "output": str(run),
    }


def train_part(weights, out: Path, quick: bool, seed: int, log) -> dict:
    """Write the digits folder under ``out``, run ``ftcore train`` on it; the part's summary."""
    from ftcore.train import TrainConfig, train

    data = write_digits(out / "digits", TRAIN_BUDGETS[quick][0])
    options = _options(weights, quick, seed, out / "run")
    log(f"wrote the shipped digits 5-9 as PNG files in class subfolders: {data}")
    log("the same run from a shell:")
    log("  " + shlex.join(command(data, options)))
    report = train(TrainConfig(str(data), **options), log=log)
    val, best = report["validation"], report["best"]
    log(
        f"validation accuracy {val['accuracy']:.3f} on {val['examples']} images; best epoch "
        f"{best['epoch_in_stage']} of stage {best['stage']!r}; run folder {options['output']}"
    )
    return {
        "data_dir": str(data),
        "run": options["output"],
        "command": shlex.join(command(data, options)),
        "validation_accuracy": val["accuracy"],
        "best": best,
        "class_counts": report["class_counts"],
    }
