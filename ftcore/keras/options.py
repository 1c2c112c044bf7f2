"""What :func:`ftcore.keras.fine_tune` does besides the stages, as three small frozen values.

- :class:`FitOptions`: how each stage fits (batch size, validation data, loss, metrics,
  shuffling, feature caching, augmentation, extra Keras callbacks);
- :class:`Checkpointing`: where ``best.keras`` and ``latest.npz`` go and whether to resume;
- :class:`Logging`: TensorBoard events and Keras' progress output.

A new option is a new field with a default here; the loop reads the value it needs.
``dataclasses.replace`` derives a variant. The old keyword arguments of ``fine_tune``
(``batch_size=``, ``checkpoint_dir=``, ``log_dir=``...) still work: :func:`from_keywords`
maps each to its field (:data:`KEYWORDS`).

    >>> fit = FitOptions(batch_size=8, shuffle=False)
    >>> from_keywords(fit, None, None, {"log_dir": "runs/logs", "verbose": 1})[2]
    Logging(tensorboard_dir=PosixPath('runs/logs'), histogram_layers=None, verbose=1, progress=True)
    >>> try:
    ...     FitOptions(cache_features="always")
    ... except KeyError as e:
    ...     print(e.args[0][:37])
    unknown cache_features value 'always'
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from ftcore.errors import unknown_name
from ftcore.keras.augment import check_augment
from ftcore.keras.class_weights import check_class_weight

_CACHE_MODES = (True, False, "auto")


@dataclass(frozen=True)
class FitOptions:
    """How every stage fits.

    - ``cache_features``: ``"auto"`` trains each stage on the cached outputs of its frozen
      prefix (the base for a head-only stage) when
      :func:`ftcore.keras.prefix_cache.prefix_blockers` finds nothing against it (else through
      the whole model); ``True`` raises instead of falling back; ``False`` never caches.
    - ``validation_data``: ``(x, y)`` arrays or a ``tf.data.Dataset`` of (input, label).
    - ``cache_ram_bytes``: cached features of one data set (train or validation) stay in RAM
      up to this size, beyond it they spill to disk (:mod:`ftcore.keras.feature_store`).
    - ``cache_key``: names the training and validation data of a dataset (e.g. the split
      file's hash with image size and preprocessing): spilled features are then kept under
      the cache folder and reused by a later run with the same key and backbone weights;
      None: a dataset's spill is removed after its stage (arrays are keyed by their bytes).
    - ``early_stopping_patience``: stop a stage after this many epochs without a new best
      ``val_loss`` (the best over all stages so far); None: off. Needs ``validation_data``.
    - ``restore_best``: with validation data, every stage ends with the weights of the best
      ``val_loss`` so far (so the next stage starts from them and ``fine_tune`` returns the
      best model over all stages, the one ``best.keras`` holds; ``FineTuneResult.best`` says
      where it came from).
    - ``class_weight``: None, ``"balanced"`` or ``{class id: weight}``, on cached and
      uncached stages (:mod:`ftcore.keras.class_weights`).
    - ``augment``: a preset name (``"flip"``, ``"flip-crop"``, ``"flip-rotate"``,
      ``"flip-crop-rotate"``: Keras preprocessing layers seeded by ``augment_seed``, see
      :mod:`ftcore.keras.augment`) or ``augment(batch) -> batch``, applied to training inputs
      only; it turns the feature cache off for the stages it applies to.
    - ``label_smoothing``: in [0, 1); sparse labels are one-hot encoded for it
      (:mod:`ftcore.keras.losses`). Only with ``loss=None``.
    - ``loss=None``: sparse or categorical cross-entropy, from the labels' layout.
    - ``callbacks``: extra Keras callbacks for every stage's fit.
    """

    batch_size: int = 32
    validation_data: tuple[np.ndarray, np.ndarray] | tf.data.Dataset | None = None
    loss: object = None
    metrics: Sequence = ("accuracy",)
    shuffle: bool = True
    cache_features: bool | str = "auto"
    cache_ram_bytes: int = 256 * 2**20
    cache_key: str | None = None
    early_stopping_patience: int | None = None
    restore_best: bool = True
    class_weight: str | Mapping[int, float] | None = None
    augment_seed: int = 0
    label_smoothing: float = 0.0
    augment: str | Callable | None = None
    callbacks: Sequence[keras.callbacks.Callback] = ()

    def __post_init__(self) -> None:
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, numbers.Integral):
            raise TypeError(f"FitOptions.batch_size must be an int, got {self.batch_size!r}")
        if self.batch_size < 1:
            raise ValueError(f"FitOptions.batch_size must be at least 1, got {self.batch_size}")
        if not any(self.cache_features is m or self.cache_features == m for m in _CACHE_MODES):
            raise unknown_name(
                "cache_features value", str(self.cache_features), ["auto"], where="FitOptions"
            )
        if isinstance(self.cache_ram_bytes, bool) or not isinstance(
            self.cache_ram_bytes, numbers.Integral
        ):
            raise TypeError(
                f"FitOptions.cache_ram_bytes must be an int, got {self.cache_ram_bytes!r}"
            )
        if self.cache_ram_bytes < 0:
            raise ValueError(f"FitOptions.cache_ram_bytes must be >= 0, got {self.cache_ram_bytes}")
        p = self.early_stopping_patience
        if p is not None and (isinstance(p, bool) or not isinstance(p, numbers.Integral) or p < 1):
            raise ValueError(
                f"FitOptions.early_stopping_patience must be None or an int >= 1, got {p!r}"
            )
        if p is not None and self.validation_data is None:
            raise ValueError(
                "FitOptions.early_stopping_patience needs validation_data: it watches val_loss"
            )
        check_class_weight(self.class_weight)
        check_augment(self.augment)
        ls = self.label_smoothing
        if isinstance(ls, bool) or not isinstance(ls, numbers.Real) or not 0 <= ls < 1:
            raise ValueError(f"FitOptions.label_smoothing must be in [0, 1), got {ls!r}")
        if ls and self.loss is not None:
            raise ValueError(
                "FitOptions.label_smoothing applies to the default loss; with loss= given, "
                "set the smoothing in that loss instead"
            )
        object.__setattr__(self, "metrics", tuple(self.metrics))
        object.__setattr__(self, "callbacks", tuple(self.callbacks))


@dataclass(frozen=True)
class Checkpointing:
    """After every epoch ``<dir>/latest.npz`` (weights, optimizer, progress; see
    :mod:`ftcore.keras.resume`) and, when the monitored loss (``val_loss`` with validation
    data, else ``loss``) improves, ``<dir>/best.keras``. ``resume=True`` continues from
    ``latest.npz`` (stage, epoch, optimizer state) when it exists."""

    dir: Path
    resume: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "dir", Path(self.dir))


@dataclass(frozen=True)
class Logging:
    """TensorBoard loss/metrics per stage (``<tensorboard_dir>/<i>_<stage>``) and weight
    histograms (``<tensorboard_dir>/weights``) of ``histogram_layers`` (default: a few base
    layers and the head); ``verbose`` is Keras' ``fit(verbose=...)``; ``progress``: a line per
    epoch of every stage and progress of feature extraction on stderr
    (:mod:`ftcore.keras.progress`)."""

    tensorboard_dir: Path | None = None
    histogram_layers: Mapping[str, keras.layers.Layer] | None = None
    verbose: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        if self.tensorboard_dir is not None:
            object.__setattr__(self, "tensorboard_dir", Path(self.tensorboard_dir))


#: ``fine_tune``'s older keyword arguments -> (option value, field) they set.
KEYWORDS: dict[str, tuple[str, str]] = {
    **{f.name: ("fit", f.name) for f in dataclasses.fields(FitOptions)},
    "checkpoint_dir": ("checkpointing", "dir"),
    "resume": ("checkpointing", "resume"),
    "log_dir": ("logging", "tensorboard_dir"),
    "histogram_layers": ("logging", "histogram_layers"),
    "verbose": ("logging", "verbose"),
    "progress": ("logging", "progress"),
}


def from_keywords(
    fit: FitOptions | None,
    checkpointing: Checkpointing | None,
    logging: Logging | None,
    keywords: Mapping[str, object],
) -> tuple[FitOptions, Checkpointing | None, Logging]:
    """The three values with the older keyword arguments folded in; a keyword may not also
    be set through its value (that would leave two answers), unknown keywords list matches."""
    given = {"fit": fit, "checkpointing": checkpointing, "logging": logging}
    changes: dict[str, dict[str, object]] = {"fit": {}, "checkpointing": {}, "logging": {}}
    for name, value in keywords.items():
        if name not in KEYWORDS:
            raise unknown_name("fine_tune keyword", name, [*KEYWORDS, *given])
        group, field = KEYWORDS[name]
        if given[group] is not None:
            raise TypeError(f"fine_tune got both {group}= and the keyword {name}=; pass one")
        changes[group][field] = value
    fit = fit or FitOptions(**changes["fit"])
    logging = logging or Logging(**changes["logging"])
    ck = changes["checkpointing"]
    if checkpointing is None and ck:
        if ck.get("dir") is None:
            if ck.get("resume"):
                raise TypeError("resume=True needs checkpoint_dir")
        else:
            checkpointing = Checkpointing(**ck)
    return fit, checkpointing, logging
