"""ftcore.data.adapter: a user's own tf.data.Dataset is checked and batched, and a wrong one is
refused saying what was expected."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from ftcore.data import adapt_dataset
from ftcore.errors import MismatchError


def _ds(images, labels):
    return tf.data.Dataset.from_tensor_slices((images, labels))


def test_unbatched_sparse_labels_are_batched():
    x = np.random.default_rng(0).random((5, 8, 8, 3)).astype(np.float32)
    out = list(adapt_dataset(_ds(x, np.arange(5)), image_shape=(8, 8, 3), batch_size=2))
    assert [b[0].shape[0] for b in out] == [2, 2, 1]
    np.testing.assert_array_equal(np.concatenate([b[0] for b in out]), x)


def test_batched_one_hot_and_float64_pass_as_float32():
    ds = _ds(np.zeros((4, 8, 8, 3)), np.eye(4, dtype=np.float32)).batch(2)  # float64 images
    out = adapt_dataset(ds, num_classes=4)
    assert out.element_spec[0].dtype == tf.float32
    assert [tuple(x.shape) for x, _ in out] == [(2, 8, 8, 3), (2, 8, 8, 3)]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: [1, 2], r"^expected a tf.data.Dataset of \(image, label\) pairs; got list$"),
        (lambda: tf.data.Dataset.range(3), r"of \(image, label\) pairs; its elements are TensorSpec"),
        (lambda: _ds(np.zeros((2, 8, 8, 3), np.uint8), [0, 1]), r"expected float images \[H, W, 3\] .*, scaled as the model expects; got .*uint8"),
        (lambda: _ds(np.zeros((2, 8, 8)), [0, 1]), r"expected float images \[H, W, 3\] per element .*shape=\(8, 8\)"),
        (lambda: _ds(np.zeros((2, 8, 8, 1)), [0, 1]), r"expected float images .*shape=\(8, 8, 1\)"),
        (lambda: _ds(np.zeros((2, 9, 8, 3)), [0, 1]), r"expected images of shape \(8, 8, 3\); got .*shape=\(9, 8, 3\)"),
        (lambda: _ds(np.zeros((2, 8, 8, 3)), [[0], [1]]), r"expected labels as integer class indices \[\] or one-hot floats \[C\]; got .*shape=\(1,\), dtype=tf.int"),
        (lambda: _ds(np.zeros((2, 8, 8, 3)), [0.0, 1.0]), r"labels as integer class indices \[\] or one-hot floats \[C\]; got .*float"),
        (lambda: _ds(np.zeros((2, 8, 8, 3)), np.eye(2)).batch(2), r"expected one-hot labels of 3 classes; got .*shape=\(None, 2\)"),
        (lambda: _ds(np.zeros((2, 8, 8, 3)), [0, 1]).batch(2).batch(2), r"expected float images .*shape=\(None, None, 8, 8, 3\)"),
    ],
)  # fmt: skip
def test_a_wrong_dataset_says_what_was_expected(make, message):
    with pytest.raises(MismatchError, match=message):
        adapt_dataset(make(), image_shape=(8, 8, 3), num_classes=3)
