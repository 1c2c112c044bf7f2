"""``ftcore evaluate``'s steps: the models (a file, or a run folder's best model), the labelled
images (a folder of class subfolders, or a run's own split), every image checked first by the
data wing, then streamed a few batches at a time through each model.

The class names of the data must be the model's labels (the same set; a folder's classes
are taken in the labels' order); a model without labels is refused with how to give them.
"""

from __future__ import annotations

import dataclasses
import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ftcore.app.run_folder import RunFiles, find_run_files, is_run_folder
from ftcore.data import BadFile, BadImagesError, ImageFile, check_images, load_folder, read_split
from ftcore.errors import FtcoreError, MismatchError, MissingFileError
from ftcore.evaluate import Evaluation, check_class_names, evaluate_scores
from ftcore.predict import Predictor, load

__all__ = [
    "Labelled",
    "evaluate_all",
    "labelled_folder",
    "load_models",
    "model_path",
    "passes",
    "run_split",
    "score",
]


@dataclasses.dataclass(frozen=True)
class Labelled:
    """Image files (relative to ``root``) with their class ids into ``class_names``."""

    root: Path
    class_names: list[str]
    files: tuple[ImageFile, ...]
    skipped: tuple[BadFile, ...]
    source: str  # what the files are, for the report's title


def model_path(model: str | os.PathLike) -> tuple[Path, RunFiles | None]:
    """A model file as given, or the best model of a run folder (and that run's files)."""
    path = Path(model)
    if is_run_folder(path):
        run = find_run_files(path)
        return run.best_model, run
    return path, None


def _options(path: Path, labels, trust: bool, run: RunFiles | None) -> dict:
    """What :func:`ftcore.predict.load` gets for ``path``: a run's ``best.keras`` (no sidecar)
    takes the run's labels.txt and input convention."""
    options = {"labels": labels, "trust": trust}
    if run is not None and path == run.keras:
        if labels is None and run.labels:
            options["labels"] = _read_labels(run.labels)
        if run.preprocessing:
            options["preprocessing"] = run.preprocessing
    return options


def _no_labels(path: Path) -> MismatchError:
    where = (
        "a .keras file holds none"
        if path.suffix == ".keras"
        else f"no sidecar {path.name}.json with labels beside it"
    )
    return MismatchError(
        f"model {path} has no class labels ({where}): pass --labels FILE, a text "
        "file with one class name per line in the model's output order"
    )


def load_models(
    paths: Sequence[Path], labels: Sequence[str] | None, trust: bool, run: RunFiles | None
) -> dict[str, Predictor]:
    """``{name: predictor}``; each must have labels (its sidecar's, ``labels``, or the run's
    labels.txt) and the same ones as the first."""
    names = [p.name for p in paths]
    if len(set(names)) != len(names):
        names = [str(p) for p in paths]
    predictors: dict[str, Predictor] = {}
    try:
        for name, path in zip(names, paths, strict=True):
            p = predictors[name] = load(path, **_options(path, labels, trust, run))
            if p.labels is None:
                raise _no_labels(path)
            first_name, first = next(iter(predictors.items()))
            check_class_names(p.labels, first.labels, f"model {name!r}", f"model {first_name!r}")
    except BaseException:
        for p in predictors.values():
            p.close()
        raise
    return predictors


def _read_labels(path: Path) -> list[str]:
    from ftcore.app.verb import read_labels

    return read_labels(str(path))


def _subfolders(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))


def labelled_folder(root: str | os.PathLike, labels: Sequence[str], skip_bad: bool) -> Labelled:
    """The images of a folder of class subfolders, classes in ``labels``' order; every image
    decoded once first (a bad one stops with the list, unless ``skip_bad``)."""
    root = Path(root)
    found = _subfolders(root)
    if found and set(found) != set(labels):
        check_class_names(found, labels, f"the data {root}", "the model")
    folder = load_folder(root, list(labels), skip_bad=skip_bad)
    return Labelled(root, list(labels), folder.files, folder.bad, f"folder {root}")


def run_split(run: RunFiles, which: str | None, labels: Sequence[str], skip_bad: bool) -> Labelled:
    """The files of the run's own split ``which`` (default: test if it has files, else
    validation) under the run's image folder, checked against the split file."""
    if run.split is None:
        raise MissingFileError(f"run folder {run.root} has no split.json: pass DATA, a folder")
    if run.data_dir is None:
        raise MissingFileError(
            f"{run.root}/report.json does not say where the images are (data_dir): pass DATA"
        )
    split = read_split(run.split, run.data_dir)
    check_class_names(split.class_names, labels, f"the split {run.split}", "the model")
    which = which or ("test" if split.subset("test") else "validation")
    files = split.subset(which)
    if not files:
        raise FtcoreError(f"the {which} split of {run.split} has no files")
    bad = check_images([run.data_dir / f.path for f in files], [f.path for f in files])
    if bad and not skip_bad:
        raise BadImagesError(bad)
    kept = tuple(f for f in files if f.path not in {b.path for b in bad})
    return Labelled(
        run.data_dir, list(labels), kept, tuple(bad), f"the {which} split of {run.root}"
    )


def passes(predictors: dict[str, Predictor]) -> dict[tuple, list[str]]:
    """The models grouped by (image size, preprocessing): one decoding pass per group."""
    groups = defaultdict(list)
    for name, p in predictors.items():
        groups[(p.image_size, p.preprocessing)].append(name)
    return dict(groups)


def score(
    predictors: dict[str, Predictor],
    data: Labelled,
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
) -> dict[str, np.ndarray]:
    """``{name: scores [N, C]}`` on ``data``'s files, streamed by the data wing's pipeline
    (decoded once per image size and preprocessing the models share)."""
    from ftcore.data import image_dataset

    paths = [data.root / f.path for f in data.files]
    scores: dict[str, list] = {name: [] for name in predictors}
    for (size, preprocessing), names in passes(predictors).items():
        ds = image_dataset(
            paths,
            [f.label for f in data.files],
            size,
            preprocessing=preprocessing,
            batch_size=batch_size,
        )
        for x, _ in ds:
            x = x.numpy()
            for name in names:
                out = predictors[name].predict(x, batch_size)
                scores[name].append(out.reshape(len(x), -1))
            if progress is not None:
                progress(len(x))
    return {name: np.concatenate(s) for name, s in scores.items()}


def evaluate_all(
    predictors: dict[str, Predictor], data: Labelled, top_k: int, **kwargs
) -> dict[str, Evaluation]:
    """Every model judged on ``data`` (:func:`score`, then :func:`evaluate_scores`)."""
    y = [f.label for f in data.files]
    paths = [f.path for f in data.files]
    scores = score(predictors, data, **kwargs)
    for name, s in scores.items():
        if s.shape[1] != len(data.class_names):
            raise MismatchError(
                f"model {name} has {s.shape[1]} outputs but {len(data.class_names)} labels "
                f"{data.class_names}: give one label per output (--labels FILE)"
            )
    return {
        name: evaluate_scores(y, s, data.class_names, paths=paths, ks=(top_k,))
        for name, s in scores.items()
    }
