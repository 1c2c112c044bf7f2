"""Which backbone and whose weights: a pretrained-store name (its weights come with it), or any
``keras.applications`` name with a local weights file. The report records where the weights
came from (file, sha256, and for a store entry its provenance).

    >>> STORE_BACKBONES["mobilenet-v1-keras"].app
    'MobileNet'
    >>> backbone_spec("MobileNet", None, None)
    Traceback (most recent call last):
    ftcore.errors.FtcoreError: --backbone MobileNet (a keras.applications name) needs --weights FILE (a local no-top weights file; ftcore never downloads) or --weights imagenet (the file Keras cached in ~/.keras/models)
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from ftcore.errors import FtcoreError, unknown_name

__all__ = ["STORE_BACKBONES", "BackboneSpec", "backbone_spec", "load_base"]


@dataclasses.dataclass(frozen=True)
class StoreBackbone:
    """A pretrained-store entry usable as a backbone: its application, width and file."""

    app: str
    alpha: float
    file: str


#: ``--backbone`` names served by the pretrained store (``ftcore fetch NAME``).
STORE_BACKBONES = {
    "mobilenet-v1-keras": StoreBackbone("MobileNet", 1.0, "mobilenet_1_0_224_tf_no_top.h5"),
    "mobilenet-v2-keras": StoreBackbone("MobileNetV2", 1.0, "mobilenet_v2_1.0_no_top.h5"),
}


@dataclasses.dataclass(frozen=True)
class BackboneSpec:
    """``keras.applications.<app>`` with these constructor arguments and weights."""

    app: str
    kwargs: dict
    weights: str | None  # a path, or "imagenet" (Keras' cache)
    store_entry: str | None = None


def _keras_apps() -> list[str]:
    import keras

    return [n for n in dir(keras.applications) if n[:1].isupper()]


def backbone_spec(backbone: str, weights: str | None, alpha: float | None) -> BackboneSpec:
    """Resolve ``--backbone``/``--weights``/``--alpha`` (fetches a store entry if needed)."""
    if backbone in STORE_BACKBONES:
        entry = STORE_BACKBONES[backbone]
        if weights is not None:
            raise FtcoreError(
                f"--backbone {backbone} brings its own weights; --weights is for a "
                "keras.applications name (e.g. --backbone MobileNet --weights FILE)"
            )
        if alpha is not None and alpha != entry.alpha:
            raise FtcoreError(f"--backbone {backbone} has alpha {entry.alpha}, not {alpha}")
        from ftcore import pretrained

        path = pretrained.fetch(backbone) / entry.file
        return BackboneSpec(entry.app, {"alpha": entry.alpha}, str(path), backbone)
    apps = _keras_apps()
    if backbone not in apps:
        raise unknown_name("backbone", backbone, [*STORE_BACKBONES, *apps])
    if weights is None:
        raise FtcoreError(
            f"--backbone {backbone} (a keras.applications name) needs --weights FILE (a local "
            "no-top weights file; ftcore never downloads) or --weights imagenet (the file "
            "Keras cached in ~/.keras/models)"
        )
    return BackboneSpec(backbone, {} if alpha is None else {"alpha": alpha}, weights)


def load_base(spec: BackboneSpec, image_size: int):
    """``(the backbone with its weights loaded, where the weights came from)``."""
    from ftcore.keras.backbone import _cached_imagenet_file, load_backbone

    shape = (image_size, image_size, 3)
    path = spec.weights
    if path == "imagenet":
        path = str(_cached_imagenet_file(spec.app, shape, None, **spec.kwargs))
    base = load_backbone(spec.app, shape, path, **spec.kwargs)
    with open(path, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    origin = {
        "backbone": spec.app,
        "arguments": spec.kwargs,
        "weights_file": str(Path(path).resolve()),
        "sha256": digest,
    }
    if spec.store_entry is not None:
        from ftcore.pretrained import Store

        origin["store_entry"] = spec.store_entry
        origin["provenance"] = Store().provenance(spec.store_entry)
    return base, origin
