"""Accept a user's own ``tf.data.Dataset`` of (image, label): check its element spec and say
what was expected; batch it if it is not batched.

Images: floating point, ``[H, W, 3]`` per element (``[B, H, W, 3]`` batched), already scaled
as the model expects. Labels: integer class indices (``[]`` / ``[B]``) or one-hot floats
(``[C]`` / ``[B, C]``).

    >>> import tensorflow as tf
    >>> ds = tf.data.Dataset.from_tensor_slices((tf.zeros([5, 8, 8, 3]), tf.range(5)))
    >>> adapt_dataset(ds, image_shape=(8, 8, 3), batch_size=2).element_spec[0].shape.as_list()
    [None, 8, 8, 3]
    >>> adapt_dataset(tf.data.Dataset.from_tensor_slices(tf.zeros([5, 8, 8, 3])))
    Traceback (most recent call last):
    ftcore.errors.MismatchError: expected a dataset of (image, label) pairs; its elements are TensorSpec(shape=(8, 8, 3), dtype=tf.float32, name=None)
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from ftcore.errors import MismatchError

__all__ = ["adapt_dataset"]


def _spec_error(what: str, got) -> MismatchError:
    return MismatchError(f"expected {what}; got {got}")


def _check_image(spec, image_shape: Sequence[int] | None) -> bool:
    """Whether the images are batched (rank 4); a wrong spec raises."""
    want = "float images [H, W, 3] per element (or [B, H, W, 3] batched)"
    if not isinstance(spec, tf.TensorSpec) or not spec.dtype.is_floating:
        raise _spec_error(want + ", scaled as the model expects", spec)
    shape = spec.shape
    if shape.rank not in (3, 4) or shape[-1] not in (3, None):
        raise _spec_error(want, spec)
    if image_shape is not None:
        for got, expected in zip(shape[-3:], image_shape, strict=True):
            if got is not None and got != expected:
                raise _spec_error(f"images of shape {tuple(image_shape)}", spec)
    return shape.rank == 4


def _check_label(spec, batched: bool, num_classes: int | None) -> None:
    rank = spec.shape.rank if isinstance(spec, tf.TensorSpec) else None
    sparse = rank == int(batched) and spec.dtype.is_integer
    one_hot = rank == 1 + int(batched) and spec.dtype.is_floating
    if not (sparse or one_hot):
        b = "[B]" if batched else "[]"
        bc = "[B, C]" if batched else "[C]"
        raise _spec_error(f"labels as integer class indices {b} or one-hot floats {bc}", spec)
    if one_hot and num_classes is not None and spec.shape[-1] not in (None, num_classes):
        raise _spec_error(f"one-hot labels of {num_classes} classes", spec)


def adapt_dataset(
    dataset: tf.data.Dataset,
    image_shape: Sequence[int] | None = None,
    num_classes: int | None = None,
    batch_size: int = 32,
) -> tf.data.Dataset:
    """``dataset`` checked (see the module), batched by ``batch_size`` if it is not, images
    cast to float32."""
    if not isinstance(dataset, tf.data.Dataset):
        raise _spec_error("a tf.data.Dataset of (image, label) pairs", type(dataset).__name__)
    spec = dataset.element_spec
    if not isinstance(spec, tuple | list) or len(spec) != 2:
        raise MismatchError(f"expected a dataset of (image, label) pairs; its elements are {spec}")
    batched = _check_image(spec[0], image_shape)
    _check_label(spec[1], batched, num_classes)
    if not batched:
        dataset = dataset.batch(batch_size)
    if spec[0].dtype != tf.float32:
        dataset = dataset.map(lambda x, y: (tf.cast(x, tf.float32), y))
    return dataset
