"""What :func:`ftcore.keras.fine_tune` trains and validates on: NumPy arrays ``(x, y)`` or a
``tf.data.Dataset`` of ``(input, label)`` batches, checked against the model the same way.

A dataset is checked on its element spec (a pair; inputs of the model's shape, batched or not;
integer class ids or one-hot floats) and on its first batch (label range against the head's
classes, as for arrays). It is streamed, never loaded whole: :meth:`Data.batches` yields NumPy
batches one at a time.

    >>> import keras, numpy as np, tensorflow as tf
    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="head_out")])
    >>> ds = tf.data.Dataset.from_tensor_slices((np.zeros((5, 4), "float32"), [0, 1, 2, 0, 1]))
    >>> data, loss = check_data(m, ds.batch(2), None, "training"); loss, data.streamed
    ('sparse_categorical_crossentropy', True)
    >>> check_data(m, ds.batch(2).map(lambda x, y: (x, y + 2)), None, "training")
    Traceback (most recent call last):
    ftcore.errors.MismatchError: training labels range 2..3 but the head outputs 3 classes (ids 0..2)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from ftcore.errors import EmptyDataError, MismatchError


@dataclass
class Data:
    """Arrays (``x``, ``y``) or a batched ``dataset``; exactly one of the two is set."""

    x: np.ndarray | None = None
    y: np.ndarray | None = None
    dataset: tf.data.Dataset | None = None

    @property
    def streamed(self) -> bool:
        return self.dataset is not None

    def batches(self, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """NumPy ``(inputs, labels)`` batches: the dataset's own, or slices of the arrays."""
        if self.streamed:
            for xb, yb in self.dataset:
                yield np.asarray(xb), np.asarray(yb)
        else:
            for start in range(0, len(self.x), batch_size):
                yield self.x[start : start + batch_size], self.y[start : start + batch_size]

    def labels(self) -> np.ndarray:
        """Every label, in order (a dataset is iterated once for them)."""
        if not self.streamed:
            return self.y
        parts = [np.asarray(y) for y in self.dataset.map(lambda _, y: y)]
        return np.concatenate(parts)

    def for_keras(self, batch_size: int) -> tuple:
        """``(x, y, batch_size)`` for Keras' ``fit``/``evaluate``."""
        if self.streamed:
            return self.dataset, None, None
        return self.x, self.y, batch_size


def class_ids(y: np.ndarray) -> np.ndarray:
    """Class indices of sparse or one-hot labels."""
    y = np.asarray(y)
    return y.argmax(-1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(-1).astype("int64")


def check_data(model: keras.Model, x, y, what: str, batch_size: int = 32) -> tuple[Data, str]:
    """``(Data, loss)``: the input checked against ``model``; the loss suits the label layout.

    ``x`` a dataset (then ``y`` is None; an unbatched dataset is batched by ``batch_size``)
    or arrays."""
    if isinstance(x, tf.data.Dataset):
        if y is not None:
            raise TypeError(f"{what} data is a tf.data.Dataset of (input, label): pass y=None")
        dataset = _batched(model, x, what, batch_size)
        first = next(iter(dataset.take(1)), None)
        if first is None:
            raise EmptyDataError(f"{what} dataset is empty (its first batch never came)")
        return Data(dataset=dataset), check_arrays(model, *first, what)
    x, y = np.asarray(x), np.asarray(y)
    return Data(x, y), check_arrays(model, x, y, what)


def _batched(model: keras.Model, ds: tf.data.Dataset, what: str, batch_size: int):
    spec = ds.element_spec
    if not isinstance(spec, tuple | list) or len(spec) != 2:
        raise MismatchError(
            f"{what} dataset: expected (input, label) pairs; its elements are {spec}"
        )
    rank = len(model.inputs[0].shape) - 1  # per example
    got = spec[0].shape.rank if isinstance(spec[0], tf.TensorSpec) else None
    if got == rank:
        return ds.batch(batch_size)
    if got != rank + 1:
        raise MismatchError(
            f"{what} dataset: inputs {spec[0]}; the model expects batches of shape "
            f"{tuple(model.inputs[0].shape)} (or single examples of {tuple(model.inputs[0].shape[1:])})"
        )
    return ds


def check_arrays(model: keras.Model, x, y, what: str) -> str:
    """Validate arrays against the model; return the loss suited to the label layout."""
    x, y = np.asarray(x), np.asarray(y)
    if len(x) == 0 or len(y) == 0:
        raise EmptyDataError(f"{what} set is empty (x has {len(x)} examples, y has {len(y)})")
    if len(x) != len(y):
        raise MismatchError(f"{what} set: {len(x)} inputs but {len(y)} labels")
    want = tuple(model.inputs[0].shape[1:])
    if len(want) != x.ndim - 1 or any(
        w not in (None, g) for w, g in zip(want, x.shape[1:], strict=True)
    ):
        raise MismatchError(f"{what} inputs have shape {x.shape[1:]}, the model expects {want}")
    out = tuple(model.outputs[0].shape)
    if len(out) != 2:
        raise MismatchError(
            f"the head outputs shape {out} but {what} labels have shape {y.shape}: a "
            "classification head must output (batch, classes); add pooling/flatten/reshape"
        )
    n_cls = out[1]
    if y.ndim == 2 and y.shape[1] > 1:
        if y.shape[1] != n_cls:
            raise MismatchError(
                f"the head outputs {n_cls} classes but {what} labels are one-hot with {y.shape[1]}"
            )
        return "categorical_crossentropy"
    if y.ndim > 2 or (y.ndim == 2 and y.shape[1] != 1):
        raise MismatchError(f"{what} labels have shape {y.shape}; expected (N,) class ids")
    if not np.issubdtype(y.dtype, np.integer):
        raise MismatchError(f"{what} labels have dtype {y.dtype}; expected integer class ids")
    if y.min() < 0 or y.max() >= n_cls:
        raise MismatchError(
            f"{what} labels range {int(y.min())}..{int(y.max())} but the head outputs "
            f"{n_cls} classes (ids 0..{n_cls - 1})"
        )
    return "sparse_categorical_crossentropy"
