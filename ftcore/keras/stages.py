"""Training stages: which layers train, for how long, with which optimizer.

Stage 1 (:func:`head_stage`) trains the head (the seed recipe: SGD, lr 0.01); stage 2
(:func:`unfreeze_stage`) trains every layer from a given one on at a lower rate (1e-4),
optionally with discriminative learning rates. BatchNormalization follows one rule
(``train_bn``, :mod:`ftcore.keras.trainable`). The loop that runs them is
:func:`ftcore.keras.finetune.fine_tune`.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from ftcore.errors import FtcoreError, unknown_name
from ftcore.keras.optimizers import LayerwiseAdam, LayerwiseSGD, discriminative_multipliers
from ftcore.keras.trainable import (
    FreezeReport,
    Selector,
    bn_rule,
    first_leaf_from,
    freeze_report,
    leaves,
    select,
    set_trainable_flags,
)

_SGD, _ADAM = (keras.optimizers.SGD, LayerwiseSGD), (keras.optimizers.Adam, LayerwiseAdam)
#: ``optimizer`` name -> ((plain Keras class, per-layer-LR class), extra arguments).
_OPTIMIZER_KINDS = {"sgd": (_SGD, {}), "momentum": (_SGD, {"momentum": 0.9}), "adam": (_ADAM, {})}
#: The ``optimizer`` names a :class:`Stage` takes.
OPTIMIZERS = tuple(_OPTIMIZER_KINDS)


@dataclass(frozen=True)
class Stage:
    """One training stage: which layers train, for how long, with which optimizer.

    ``train`` is a selector (:mod:`ftcore.keras.trainable`) of the layers that train, everything
    else is frozen; ``unfreeze_from`` instead trains every layer from that index / name on.
    ``optimizer``: ``"sgd"``, ``"momentum"`` (SGD, momentum 0.9) or ``"adam"``.
    ``discriminative``: lowest LR multiplier for the earliest trainable base layer (geometric
    up to 1 at the head) or ``{variable path: multiplier}``.

    ``train_bn``: the pretrained BatchNormalization layers stay frozen (``False``, the
    default) or all train (``True``), whatever ``train`` selects; head BN layers follow the
    selection. The rule and why: :mod:`ftcore.keras.trainable` (shared with ``freeze`` and
    ``unfreeze_from``).
    """

    name: str
    train: Selector | None = "head"
    unfreeze_from: int | str | None = None
    epochs: int = 1
    optimizer: str = "sgd"
    learning_rate: float = 0.01
    discriminative: float | dict[str, float] | None = None
    train_bn: bool = False

    def __post_init__(self) -> None:  # a typo fails here, not after the stages before it ran
        if not isinstance(self.train_bn, bool):
            raise TypeError(
                f"stage {self.name!r}: train_bn must be True or False, got {self.train_bn!r} "
                "(one rule for BatchNormalization: see ftcore.keras.trainable)"
            )
        if self.optimizer not in OPTIMIZERS:
            raise unknown_name(
                "optimizer", self.optimizer, OPTIMIZERS, where=f"stage {self.name!r}"
            )

    def plan(self, model: keras.Model) -> list[str]:
        """The leaf paths this stage trains, in order (``model``'s flags are not touched)."""
        order = [p for p, _ in leaves(model)]
        if self.unfreeze_from is not None:
            first = first_leaf_from(model, self.unfreeze_from)
            if first is None:
                raise FtcoreError(
                    f"stage {self.name!r}: unfreeze_from={self.unfreeze_from!r} is past the end "
                    f"of model {model.name!r} ({len(model.layers)} layers), so it would train "
                    "nothing; index the model you train (the seed recipe's model.layers[80:] counts "
                    "the uncut MobileNet) or name a layer, e.g. unfreeze_stage('conv_dw_5')"
                )
            on = set(order[order.index(first) :])
        else:
            on = set(select(model, self.train)) if self.train is not None else set()
        flags = bn_rule(model, {p: p in on for p in order}, self.train_bn)
        return [p for p in order if flags[p]]

    def apply(self, model: keras.Model) -> list[str]:
        """Set ``model``'s trainable flags for this stage; return the trainable leaf paths."""
        on = self.plan(model)
        keep = set(on)
        set_trainable_flags(model, {p: p in keep for p, _ in leaves(model)})
        return on

    def report(self, model: keras.Model) -> FreezeReport:
        """The freeze table with the "next stage" column for this stage (flags unchanged)."""
        return freeze_report(model, next_trainable=self.plan(model))

    def make_optimizer(self, model: keras.Model) -> keras.optimizers.Optimizer:
        """A fresh optimizer for this stage (after :meth:`apply`)."""
        mults = self.discriminative
        if isinstance(mults, (int, float)):
            mults = discriminative_multipliers(model, float(mults))
        (plain, layerwise), extra = _OPTIMIZER_KINDS[self.optimizer]
        if not mults:  # a plain Keras optimizer: the saved .keras then loads without ftcore
            return plain(learning_rate=self.learning_rate, **extra)
        return layerwise(learning_rate=self.learning_rate, lr_multipliers=mults, **extra)


def head_stage(
    epochs: int = 5, learning_rate: float = 0.01, optimizer: str = "sgd", **kwargs
) -> Stage:
    """Stage 1: train only the head (the seed recipe: SGD, lr 0.01).

    >>> head_stage(3).train
    'head'
    """
    return Stage(
        "head",
        train="head",
        epochs=epochs,
        learning_rate=learning_rate,
        optimizer=optimizer,
        **kwargs,
    )


def unfreeze_stage(
    start: int | str, epochs: int = 5, learning_rate: float = 1e-4, optimizer: str = "sgd", **kwargs
) -> Stage:
    """Stage 2: train every layer from ``start`` on (the seed recipe: ``model.layers[80:]``, lr 1e-4).

    >>> unfreeze_stage(80).unfreeze_from
    80
    """
    return Stage(
        "unfreeze",
        train=None,
        unfreeze_from=start,
        epochs=epochs,
        learning_rate=learning_rate,
        optimizer=optimizer,
        **kwargs,
    )
