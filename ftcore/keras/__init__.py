"""The Keras 3 path: load and cut a backbone, attach a head, freeze, fine-tune in stages.

>>> from ftcore.keras import attach_head, cut, fine_tune, head_stage, load_backbone
"""

from ftcore.keras.backbone import cut, load_backbone
from ftcore.keras.callbacks import BestEpoch, save_model_atomic
from ftcore.keras.compile_guard import CompileGuard, check_compiled, compile_model
from ftcore.keras.finetune import FineTuneResult, StageResult, fine_tune
from ftcore.keras.head import attach_head, head_layers
from ftcore.keras.optimizers import LayerwiseAdam, LayerwiseSGD, discriminative_multipliers
from ftcore.keras.options import Checkpointing, FitOptions, Logging
from ftcore.keras.stages import Stage, head_stage, unfreeze_stage
from ftcore.keras.trainable import freeze, freeze_report, leaves, unfreeze, unfreeze_from

__all__ = [
    "BestEpoch",
    "Checkpointing",
    "CompileGuard",
    "FineTuneResult",
    "FitOptions",
    "LayerwiseAdam",
    "LayerwiseSGD",
    "Logging",
    "Stage",
    "StageResult",
    "attach_head",
    "check_compiled",
    "compile_model",
    "cut",
    "discriminative_multipliers",
    "fine_tune",
    "freeze",
    "freeze_report",
    "head_layers",
    "head_stage",
    "leaves",
    "load_backbone",
    "save_model_atomic",
    "unfreeze",
    "unfreeze_from",
    "unfreeze_stage",
]
