"""Pixel conventions: how a model expects its float32 RGB input in [0, 255] to be scaled.

One table for the image loader (which applies them) and the export sidecar (which names them).

    >>> import numpy as np
    >>> PREPROCESSING["mobilenet"](np.array([0.0, 255.0]))
    array([-1.,  1.])
    >>> PREPROCESSING["seed"].detail
    'RGB, x/128-1'
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Convention:
    """``x / divisor + offset``, with a human-readable description for sidecars."""

    divisor: float
    offset: float
    detail: str

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x / self.divisor + self.offset


PREPROCESSING: dict[str, Convention] = {
    "mobilenet": Convention(127.5, -1.0, "RGB, x/127.5-1 (range [-1, 1])"),  # Keras' and slim's
    "seed": Convention(128.0, -1.0, "RGB, x/128-1"),  # the seed recipe's (see ftcore's docstring)
    "unit": Convention(255.0, 0.0, "RGB, x/255 (range [0, 1])"),
    "raw": Convention(1.0, 0.0, "RGB, 0..255"),
}
