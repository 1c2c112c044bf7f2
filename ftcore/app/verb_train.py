"""``ftcore train``: fine-tune a pretrained backbone on a folder of class subfolders; writes a
run folder with the split, checkpoints, logs, ``best.keras``, verified ``.pb`` and ``.tflite``
with ``labels.txt``, ``report.json`` and the learning curves (see :mod:`ftcore.train`).

    $ ftcore train photos/ --backbone mobilenet-v1-keras --cut conv_pw_11_relu --epochs 5
    $ ftcore train photos/ --backbone MobileNet --weights base.h5 --alpha 0.25 --image-size 128
    $ ftcore train photos/ --output ftcore-runs/parts --resume
"""

from __future__ import annotations

import argparse

from ftcore.app.verb import add_verb

HELP = (
    "fine-tune a pretrained backbone on a folder of class subfolders (DIR/<class>/<image>): "
    "split, train, verify, export .pb and .tflite, report"
)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = add_verb(subparsers, "train", HELP, run)
    p.add_argument("data_dir", metavar="DIR", help="folder of class subfolders holding images")
    _model_options(p)
    _training_options(p)
    _run_options(p)
    return p


def _model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument(
        "--backbone",
        default="mobilenet-v1-keras",
        help="a pretrained-store name (mobilenet-v1-keras, mobilenet-v2-keras; fetched once) or "
        "a keras.applications name with --weights (default mobilenet-v1-keras)",
    )
    g.add_argument(
        "--weights",
        metavar="FILE",
        help="keras.applications backbones: a local no-top weights file, or 'imagenet' for "
        "the file Keras cached in ~/.keras/models (ftcore never downloads)",
    )
    g.add_argument("--alpha", type=float, help="width of a MobileNet keras.applications backbone")
    g.add_argument(
        "--cut", metavar="LAYER", help="cut the backbone after this layer (default: keep all)"
    )
    g.add_argument(
        "--image-size", type=int, default=224, metavar="PX", help="input size (default 224)"
    )
    g.add_argument(
        "--preprocessing",
        default="mobilenet",
        choices=("mobilenet", "seed", "unit", "raw"),
        help="pixel scaling the backbone expects (default mobilenet: [-1, 1])",
    )
    g.add_argument("--head", choices=("gap", "conv"), default="gap", help="new head (default gap)")
    g.add_argument("--dropout", type=float, default=0.2, help="head dropout (default 0.2)")
    g.add_argument(
        "--head-filters", type=int, help="conv head: filters of its 3x3 conv (default 64)"
    )
    g.add_argument("--head-norm", action="store_true", help="conv head: BatchNormalization first")


def _training_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=5, help="stage 1 (head only) epochs (default 5)")
    g.add_argument("--lr", type=float, default=0.01, help="stage 1 learning rate (default 0.01)")
    g.add_argument(
        "--optimizer",
        choices=("sgd", "momentum", "adam"),
        default="momentum",
        help="both stages (default momentum: SGD with momentum 0.9)",
    )
    g.add_argument(
        "--unfreeze-from",
        metavar="LAYER",
        help="stage 2: also train every layer from LAYER on (BatchNorm stays frozen)",
    )
    g.add_argument("--unfreeze-epochs", type=int, default=5, help="stage 2 epochs (default 5)")
    g.add_argument(
        "--unfreeze-lr", type=float, default=1e-4, help="stage 2 learning rate (default 1e-4)"
    )
    g.add_argument("--batch-size", type=int, default=32, help="default 32")
    g.add_argument("--seed", type=int, default=0, help="split and training seed (default 0)")
    g.add_argument(
        "--validation-split",
        type=float,
        default=0.2,
        metavar="F",
        help="fraction of each class held out for validation (default 0.2)",
    )
    g.add_argument(
        "--test-split",
        type=float,
        default=0.0,
        metavar="F",
        help="fraction of each class held out for a final test (default 0: none)",
    )
    g.add_argument(
        "--class-weights",
        default="none",
        metavar="balanced|none",
        help="balanced: weight each class by total / (classes * its count), for imbalanced "
        "folders (default none)",
    )
    g.add_argument(
        "--augment",
        metavar="PRESET",
        help="training-only augmentation: flip, flip-crop, flip-rotate, flip-crop-rotate "
        "(turns the feature cache off for the stages it applies to; default none)",
    )
    g.add_argument(
        "--label-smoothing", type=float, default=0.0, metavar="X", help="in [0, 1) (default 0)"
    )
    g.add_argument(
        "--early-stopping",
        type=int,
        metavar="PATIENCE",
        help="stop a stage after PATIENCE epochs without a new best validation loss (the "
        "best weights over all stages are kept either way; default off)",
    )


def _run_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("run")
    g.add_argument(
        "--output",
        metavar="RUN_DIR",
        help="new run folder (default ./ftcore-runs/train-<time>; an existing one is refused "
        "unless --resume)",
    )
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --output after a kill: same split (refused if the folder "
        "changed), same options, from its last checkpoint",
    )
    g.add_argument(
        "--skip-bad",
        action="store_true",
        help="leave out unreadable images (listed in the report) instead of stopping",
    )
    g.add_argument(
        "--int8",
        action="store_true",
        help="full-integer .tflite, calibrated on the training split, checked on validation",
    )
    g.add_argument(
        "--assert-accuracy-at-least",
        type=float,
        metavar="X",
        help="exit 1 before exporting when the validation accuracy is below X (0..1)",
    )


def config_from_args(args: argparse.Namespace):
    """The :class:`~ftcore.train.config.TrainConfig` of parsed ``ftcore train`` arguments."""
    import dataclasses

    from ftcore.train.config import TrainConfig

    names = [f.name for f in dataclasses.fields(TrainConfig)]
    return TrainConfig(**{n: getattr(args, n) for n in names if hasattr(args, n)})


def run(args: argparse.Namespace) -> int:
    from ftcore.data import BadImagesError
    from ftcore.errors import InvalidFileError
    from ftcore.train.workflow import train

    try:
        report = train(config_from_args(args))
    except BadImagesError as e:  # the data wing names the Python option; say the flag
        raise InvalidFileError(str(e).replace("skip_bad=True", "--skip-bad")) from None
    print(summary(report))
    return 0


def summary(report: dict) -> str:
    """The closing lines: accuracy, best epoch, the files written."""
    lines = []
    if report.get("validation"):
        lines.append(f"validation accuracy: {report['validation']['accuracy']:.4f}")
    if report.get("test"):
        lines.append(f"test accuracy: {report['test']['accuracy']:.4f}")
    best = report.get("best")
    if best:
        lines.append(
            f"best epoch: {best['epoch_in_stage']} of stage {best['stage']!r} "
            f"({best['monitor']} {best['value']:.4f})"
        )
    ex = report["exports"]
    lines.append(
        f"wrote {ex['pb']['path']}, {ex['tflite']['path']}, {ex['labels']}, best.keras and report.json"
    )
    return "\n".join(lines)
