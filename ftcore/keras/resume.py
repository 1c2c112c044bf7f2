"""``latest.npz``, the resume file of :func:`ftcore.keras.fine_tune`: its writer and its reader.

One file holds the model's weights, the optimizer's variables and the progress
``{"stage", "epoch", "best"}``, so one atomic rename commits all three. Weights are keyed by
variable path (``<leaf layer path>/<variable name>``, e.g. ``"b0_dense/kernel"``), not by
position: resuming into a model whose variables differ is refused with the missing, extra and
mismatched-shape names, instead of loading values into the wrong variables. The optimizer's
variables are stored in its own order together with its class and the variable paths it was
built on, and restored only into the same optimizer over the same variables.

    >>> import keras, tempfile
    >>> from pathlib import Path
    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, name="d")])
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = write_latest(folder, m, Progress(stage=1, epoch=0, best=None))
    >>> latest = read_latest(folder); latest.progress, sorted(latest.weights)
    (Progress(stage=1, epoch=0, best=None), ['d/bias', 'd/kernel'])
    >>> restore_weights(keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, name="d")]),
    ...                 latest)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ftcore.errors.MismatchError: .../latest.npz does not fit model 'sequential_...': shapes differ: d/kernel (file (2, 1), model (3, 1))
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np

from ftcore.atomic import write_bytes
from ftcore.errors import InvalidFileError, MismatchError
from ftcore.keras.trainable import leaves

LATEST = "latest.npz"
#: Version of the file's layout; 2 = keyed by variable path (1 was keyed by position).
FORMAT = 2
_W, _O = "weights/", "optimizer/"


@dataclass(frozen=True)
class Progress:
    """Where training stands: ``epoch`` epochs of stage ``stage`` are done; ``best`` is the
    best monitored value so far (None before the first)."""

    stage: int
    epoch: int
    best: float | None


@dataclass(frozen=True)
class Latest:
    """What :func:`read_latest` found: progress, weights by variable path, optimizer state."""

    path: Path
    progress: Progress
    weights: dict[str, np.ndarray]
    optimizer: dict | None  # {"class", "variables": [paths it trains], "values": [arrays]}


def variable_paths(model: keras.Model) -> dict[str, keras.Variable]:
    """``{variable path: variable}`` of every weight of ``model``, in model order.

    A leaf layer's variables are ``<leaf path>/<name>``; a second variable of the same name
    in one layer (a layer holding sublayers) gets ``:1``, ``:2``... in its weights' order.
    """
    out: dict[str, keras.Variable] = {}
    for path, layer in leaves(model):
        for v in layer.weights:
            key, n = f"{path}/{v.name}", 0
            while key in out:
                n += 1
                key = f"{path}/{v.name}:{n}"
            out.setdefault(key, v)
    seen = {id(v) for v in out.values()}
    for v in model.weights:  # variables no leaf layer owns
        if id(v) not in seen:
            out[f"model/{v.path}"] = v
    return out


def _paths_of(model: keras.Model, variables) -> list[str]:
    by_id = {id(v): k for k, v in variable_paths(model).items()}
    return [by_id.get(id(v), f"model/{v.path}") for v in variables]


def write_latest(
    directory: Path, model: keras.Model, progress: Progress, fitted: keras.Model | None = None
) -> Path:
    """Write ``<directory>/latest.npz`` atomically: ``model``'s weights, ``progress`` and, with
    ``fitted`` (the model being fit: ``model`` or its head), that model's optimizer state."""
    arrays = {_W + k: np.asarray(v.numpy()) for k, v in variable_paths(model).items()}
    opt = fitted.optimizer if fitted is not None else None
    state = {"format": FORMAT, **asdict(progress), "optimizer": None}
    if opt is not None and opt.built:
        state["optimizer"] = {
            "class": type(opt).__name__,
            "variables": _paths_of(model, fitted.trainable_variables),
        }
        arrays.update({f"{_O}{i}": np.asarray(v.numpy()) for i, v in enumerate(opt.variables)})
    buf = io.BytesIO()
    np.savez(buf, state=np.array(json.dumps(state)), **arrays)
    return write_bytes(Path(directory) / LATEST, buf.getvalue())


def read_latest(directory: Path) -> Latest | None:
    """The resume file in ``directory``, or None if there is none."""
    path = Path(directory) / LATEST
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    state = json.loads(str(arrays.pop("state"))) if "state" in arrays else {}
    if state.get("format") != FORMAT:
        raise InvalidFileError(
            f"{path} is not a format-{FORMAT} ftcore resume file (weights keyed by variable "
            f"path); found {'format ' + str(state['format']) if 'format' in state else 'none'}: "
            "written by another version of ftcore's fine_tune; remove it or run without resume"
        )
    weights = {k[len(_W) :]: a for k, a in arrays.items() if k.startswith(_W)}
    opt = state.get("optimizer")
    if opt is not None:
        n = sum(k.startswith(_O) for k in arrays)
        opt = {**opt, "values": [arrays[f"{_O}{i}"] for i in range(n)]}
    progress = Progress(state["stage"], state["epoch"], state["best"])
    return Latest(path, progress, weights, opt)


def _listed(names, limit: int = 5) -> str:
    names = sorted(names)
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def restore_weights(model: keras.Model, latest: Latest) -> None:
    """Assign ``latest``'s weights to ``model`` by variable path; nothing is assigned unless
    every variable matches (else :class:`MismatchError` naming what differs)."""
    have = variable_paths(model)
    missing = have.keys() - latest.weights.keys()
    extra = latest.weights.keys() - have.keys()
    shapes = {
        k: (latest.weights[k].shape, tuple(v.shape))
        for k, v in have.items()
        if k in latest.weights and latest.weights[k].shape != tuple(v.shape)
    }
    problems = []
    if missing:
        problems.append(f"the file lacks {len(missing)} model variables: {_listed(missing)}")
    if extra:
        problems.append(f"the model lacks {len(extra)} file variables: {_listed(extra)}")
    if shapes:
        shown = [f"{k} (file {f}, model {m})" for k, (f, m) in sorted(shapes.items())[:5]]
        problems.append("shapes differ: " + ", ".join(shown))
    if problems:
        raise MismatchError(
            f"{latest.path} does not fit model {model.name!r}: " + "; ".join(problems)
        )
    for k, v in have.items():
        v.assign(latest.weights[k])


def restore_optimizer(model: keras.Model, fitted: keras.Model, latest: Latest) -> None:
    """Load ``latest``'s optimizer state into ``fitted.optimizer`` (``fitted``: ``model`` or the
    head being fit), refusing another optimizer class or other trained variables."""
    saved, opt = latest.optimizer, fitted.optimizer
    if saved is None:
        raise MismatchError(f"{latest.path} holds no optimizer state to continue the stage with")
    if not opt.built:
        opt.build(fitted.trainable_variables)
    now = _paths_of(model, fitted.trainable_variables)
    problems = []
    if saved["class"] != type(opt).__name__:
        problems.append(f"it was {saved['class']}, the stage's is {type(opt).__name__}")
    if saved["variables"] != now:
        gone, new = set(saved["variables"]) - set(now), set(now) - set(saved["variables"])
        problems.append(
            f"it trained other variables (no longer trained: {_listed(gone) or '-'}; "
            f"newly trained: {_listed(new) or '-'}; or another order)"
        )
    if not problems and len(saved["values"]) != len(opt.variables):
        problems.append(f"{len(saved['values'])} values saved, {len(opt.variables)} now")
    if problems:
        raise MismatchError(
            f"{latest.path}: the optimizer state does not fit this stage: "
            + "; ".join(problems)
            + ": it was written by a different stage plan"
        )
    for var, value in zip(opt.variables, saved["values"], strict=True):
        var.assign(value)
