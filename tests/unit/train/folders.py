"""Real folders of images for the train tests: each class a colour plus seeded noise (so a
tiny backbone learns it in a few epochs), written by Pillow as PNG and JPEG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

COLOURS = {"dented": (60, 60, 200), "ok": (200, 60, 60), "scratched": (60, 200, 60)}


def image_folder(
    root: Path, per_class: int = 12, classes=("dented", "ok", "scratched"), seed=0, learnable=True
):
    """``root/<class>/<i>.png|jpg``: ``per_class`` distinct 40x40 images of each class
    (``learnable=False``: grey noise in every class, nothing to learn)."""
    rng = np.random.default_rng(seed)
    for cls in classes:
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            noise = rng.normal(0, 40, (40, 40, 3))
            pixels = np.clip(
                np.array(COLOURS[cls] if learnable else (128, 128, 128)) + noise, 0, 255
            ).astype(np.uint8)
            Image.fromarray(pixels).save(root / cls / (f"{i}.jpg" if i % 2 else f"{i}.png"))
    return root


def backbone_args(pretrained) -> list[str]:
    """The tiny test backbone: MobileNet alpha 0.25 at 32 px (the fixture's weights file)."""
    return [
        "--backbone",
        "MobileNet",
        "--weights",
        str(pretrained.keras_weights),
        "--alpha",
        str(pretrained.keras_alpha),
        "--image-size",
        str(pretrained.image_size),
    ]


#: A short two-stage run of the tiny backbone.
QUICK = ["--cut", "conv_pw_5_relu", "--epochs", "3", "--lr", "0.05", "--batch-size", "8"]
STAGE2 = ["--unfreeze-from", "conv_dw_4", "--unfreeze-epochs", "2"]
