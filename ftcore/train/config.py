"""What ``ftcore train`` was asked to do: one frozen value, checked before anything is written,
stored in the run folder (``config.json``) and compared on ``--resume``.

    >>> c = TrainConfig("photos", image_size=32, epochs=2)
    >>> c.check(); c.to_dict()["epochs"]
    2
    >>> TrainConfig("photos", validation_split=0.0, assert_accuracy_at_least=0.9).check()
    Traceback (most recent call last):
    ftcore.errors.FtcoreError: --assert-accuracy-at-least needs a validation split (--validation-split > 0)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ftcore.errors import FtcoreError

__all__ = ["RESUME_MAY_CHANGE", "TrainConfig"]

#: Options a ``--resume`` may change; every other one must equal the stored configuration.
RESUME_MAY_CHANGE = ("data_dir", "output", "resume", "verbose", "assert_accuracy_at_least", "int8")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The options of one training run (the CLI flags, one field each)."""

    data_dir: str
    output: str | None = None
    backbone: str = "mobilenet-v1-keras"
    weights: str | None = None
    alpha: float | None = None
    cut: str | None = None
    image_size: int = 224
    preprocessing: str = "mobilenet"
    head: str = "gap"
    dropout: float = 0.2
    head_filters: int | None = None
    head_norm: bool = False
    optimizer: str = "momentum"
    epochs: int = 5
    lr: float = 0.01
    unfreeze_from: str | None = None
    unfreeze_epochs: int = 5
    unfreeze_lr: float = 1e-4
    batch_size: int = 32
    seed: int = 0
    validation_split: float = 0.2
    test_split: float = 0.0
    skip_bad: bool = False
    int8: bool = False
    assert_accuracy_at_least: float | None = None
    class_weights: str = "none"
    augment: str | None = None
    label_smoothing: float = 0.0
    early_stopping: int | None = None
    resume: bool = False
    verbose: bool = False

    def check(self) -> None:
        """Refuse impossible combinations (no file is read or written)."""
        need = []
        for name in ("image_size", "epochs", "batch_size", "unfreeze_epochs"):
            if getattr(self, name) < 1:
                need.append(
                    f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}"
                )
        for name in ("lr", "unfreeze_lr"):
            if not getattr(self, name) > 0:
                need.append(
                    f"--{name.replace('_', '-')} must be positive, got {getattr(self, name)}"
                )
        if not 0 <= self.dropout < 1:
            need.append(f"--dropout must be in [0, 1), got {self.dropout}")
        gate = self.assert_accuracy_at_least
        if gate is not None and not 0 <= gate <= 1:
            need.append(f"--assert-accuracy-at-least must be in [0, 1], got {gate}")
        need += self._fit_problems()
        if need:
            raise FtcoreError("; ".join(need))
        if gate is not None and self.validation_split <= 0:
            raise FtcoreError(
                "--assert-accuracy-at-least needs a validation split (--validation-split > 0)"
            )
        if self.int8 and self.validation_split <= 0:
            raise FtcoreError(
                "--int8 needs a validation split: the int8 model is calibrated on the training "
                "split and checked against the float model on the validation split"
            )
        if self.early_stopping is not None and self.validation_split <= 0:
            raise FtcoreError(
                "--early-stopping needs a validation split (--validation-split > 0): it "
                "watches the validation loss"
            )
        if self.head != "conv" and (self.head_filters is not None or self.head_norm):
            raise FtcoreError("--head-filters and --head-norm apply to --head conv only")

    def _fit_problems(self) -> list[str]:
        """What is wrong with --class-weights, --augment, --label-smoothing, --early-stopping."""
        from ftcore.errors import unknown_name
        from ftcore.keras.augment import PRESETS

        need = []
        if self.class_weights not in ("balanced", "none"):
            need.append(
                unknown_name("--class-weights", self.class_weights, ["balanced", "none"]).args[0]
            )
        if self.augment is not None and self.augment not in PRESETS:
            need.append(unknown_name("--augment preset", self.augment, list(PRESETS)).args[0])
        if not 0 <= self.label_smoothing < 1:
            need.append(f"--label-smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.early_stopping is not None and self.early_stopping < 1:
            need.append(f"--early-stopping must be at least 1 epoch, got {self.early_stopping}")
        return need

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def differences(self, stored: dict) -> list[str]:
        """``"name: stored -> now"`` for every option that a resume may not change (an option
        the stored run predates counts as its default)."""
        now = self.to_dict()
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        stored = {**defaults, **stored}
        return [
            f"--{k.replace('_', '-')}: {stored.get(k)!r} -> {now[k]!r}"
            for k in now
            if k not in RESUME_MAY_CHANGE and stored.get(k) != now[k]
        ]

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)
