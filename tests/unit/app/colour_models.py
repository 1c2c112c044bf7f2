"""A tiny real classifier of the dominant colour (blue / green / red) and folders of PNGs for it.

The Keras model averages the image (mobilenet scaling, [-1, 1]) and maps channel B, G, R to
class blue, green, red with a fixed kernel (no training: the same model on every machine), so
the right answer of every image is known: a mostly-red image is "red". Exported with
``ftcore.export`` to a ``.pb`` and a ``.tflite`` with labels in their sidecars, and a ``.tflite``
without a sidecar.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ["blue", "green", "red"]
COLOURS = {"blue": (20, 40, 230), "green": (30, 210, 40), "red": (230, 30, 20)}
INTRUDER = (120, 230, 0)  # yellow-green: "green", with "red" second
SIZE = 16


@dataclass(frozen=True)
class ColourModels:
    keras: Path  # no labels (a .keras has no sidecar)
    pb: Path  # labels in model.pb.json
    tflite: Path  # labels in model.tflite.json
    bare_tflite: Path  # no sidecar at all


def keras_model():
    import keras

    kernel = 4.0 * np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]], np.float32)  # R, G, B rows
    model = keras.Sequential(
        [
            keras.Input((SIZE, SIZE, 3)),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, activation="softmax"),
        ],
        name="colours",
    )
    model.layers[-1].set_weights([kernel, np.zeros(3, np.float32)])
    return model


def export_models(folder: Path) -> ColourModels:
    from ftcore.export import export_keras
    from ftcore.export.litert import export_keras as export_tflite

    folder.mkdir(parents=True, exist_ok=True)
    model = keras_model()
    model.save(folder / "model.keras")
    export_keras(model, folder / "model.pb", labels=CLASSES)
    export_tflite(model, folder / "model.tflite", labels=CLASSES)
    export_tflite(model, folder / "bare.tflite")
    (folder / "bare.tflite.json").unlink()
    return ColourModels(
        folder / "model.keras", folder / "model.pb", folder / "model.tflite", folder / "bare.tflite"
    )


def save_png(path: Path, colour, seed: int) -> Path:
    """A 16x16 PNG of ``colour`` with seeded noise (not blank, still clearly that colour)."""
    noise = np.random.default_rng(seed).integers(-25, 26, (SIZE, SIZE, 3))
    pixels = np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def colour_folder(root: Path, per_class: int = 4, intruder: bool = True) -> Path:
    """``root/<class>/<i>.png``, ``per_class`` images per class; with ``intruder`` also
    ``red/intruder.png``, a yellow-green image the model calls green (the one mistake)."""
    for k, name in enumerate(CLASSES):
        for i in range(per_class):
            save_png(root / name / f"{i}.png", COLOURS[name], seed=10 * k + i)
    if intruder:
        save_png(root / "red" / "intruder.png", INTRUDER, seed=99)
    return root
