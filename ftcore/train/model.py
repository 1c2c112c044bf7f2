"""The model ``ftcore train`` fine-tunes: the backbone cut at ``--cut``, a new head, and the
stages (stage 1: the head; stage 2, with ``--unfreeze-from``: every layer from there on).
Both layer names are checked here, before the run folder exists.

    >>> import keras
    >>> from ftcore.train.config import TrainConfig
    >>> base = keras.applications.MobileNet((32, 32, 3), alpha=0.25, include_top=False, weights=None)
    >>> model = build_model(TrainConfig("d", cut="conv_dw_2_relu"), base, 3)
    >>> model.output.shape, [s.name for s in stages_for(TrainConfig("d", unfreeze_from="conv_dw_2"), model)]
    ((None, 3), ['head', 'unfreeze'])
    >>> build_model(TrainConfig("d", cut="conv_dw_2_rel"), base, 3)
    Traceback (most recent call last):
    ftcore.errors.UnknownNameError: unknown layer 'conv_dw_2_rel' in mobilenet_0.25_32; closest: 'conv_dw_2_relu', ...
"""

from __future__ import annotations

from ftcore.train.config import TrainConfig

__all__ = ["build_model", "stages_for"]


def build_model(config: TrainConfig, base, num_classes: int):
    """``base`` cut at ``config.cut`` (if given) with ``config.head``, seeded by ``config.seed``."""
    import keras

    from ftcore.keras import attach_head, cut

    if config.cut is not None:
        base = cut(base, config.cut)
    keras.utils.set_random_seed(config.seed)
    extra = {"dropout": config.dropout}
    if config.head == "conv":
        extra["normalize"] = config.head_norm
        if config.head_filters is not None:
            extra["filters"] = config.head_filters
    return attach_head(base, config.head, num_classes=num_classes, **extra)


def stages_for(config: TrainConfig, model) -> list:
    """The stages, each checked against ``model`` (an unknown ``--unfreeze-from`` fails here)."""
    from ftcore.keras import head_stage, unfreeze_stage

    stages = [head_stage(config.epochs, config.lr, config.optimizer)]
    if config.unfreeze_from is not None:
        stages.append(
            unfreeze_stage(
                config.unfreeze_from, config.unfreeze_epochs, config.unfreeze_lr, config.optimizer
            )
        )
    for stage in stages:
        stage.plan(model)
    return stages
