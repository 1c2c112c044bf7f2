"""Feature caching: when only the head trains, run the frozen base once and train on its outputs.

This is retrain.py's bottleneck cache made automatic and safe. It is valid only when the base
computes the same function in every training step: no trainable base variable, no base layer
that behaves differently in training (a trainable BatchNormalization, Dropout, noise or random
augmentation layers), and no augmentation of the inputs. :func:`cache_blockers` lists what
prevents it; an empty list means training the head on cached features gives the same head
weights as training through the frozen base. It is the head-only case of
:mod:`ftcore.keras.prefix_cache` (the cut at the head).

    >>> import keras
    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="a"),
    ...                       keras.layers.Dense(2, name="head_out")])
    >>> cache_blockers(m)
    ["base layer 'a' is trainable"]
    >>> m.layers[0].trainable = False
    >>> base, head = split_at_head(m); cache_blockers(m), head.layers[-1].name
    ([], 'head_out')
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from ftcore.keras.head import head_start
from ftcore.keras.prefix_cache import prefix_blockers, split_at


def split_at_head(model: keras.Model) -> tuple[keras.Model, keras.Model]:
    """``(base, head)`` models sharing ``model``'s layers; ``head(base(x)) == model(x)``.

    The head model's input is the tensor that feeds the first ``head_*`` layer, so training
    the head model trains ``model``'s head layers (:func:`~ftcore.keras.prefix_cache.split_at`
    at the head).
    """
    k = head_start(model)
    if k >= len(model.layers):
        raise ValueError(f"model {model.name!r} has no head_* layers to split at")
    return split_at(model, k, names=("base", "head"))


def cache_blockers(model: keras.Model, augment: object | None = None) -> list[str]:
    """Why training the head on cached base outputs would differ from training ``model``.

    Empty when caching is valid for a stage that trains ``model`` with its current flags:
    :func:`~ftcore.keras.prefix_cache.prefix_blockers` with the cut at the head.
    """
    k = head_start(model)
    if k >= len(model.layers):
        return [f"model {model.name!r} has no head_* layers"]
    return prefix_blockers(model, k, augment)


def extract_features(base: keras.Model, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """The base's inference-mode outputs for ``x``, computed once.

    >>> import keras, numpy as np
    >>> base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> extract_features(base, np.zeros((5, 4), "float32")).shape
    (5, 3)
    """
    return np.asarray(base.predict(x, batch_size=batch_size, verbose=0))


def fit_features(
    head: keras.Model,
    features: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    initial_epoch: int = 0,
    shuffle: bool = True,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    callbacks: list[keras.callbacks.Callback] = (),
    sample_weight: np.ndarray | None = None,
) -> dict[str, list[float]]:
    """Train the compiled ``head`` on cached features; return the per-epoch history.

    The same steps as ``head.fit`` (it calls ``head.train_step`` on the same batches), but a
    whole epoch runs as one graph call on in-memory tensors, without ``fit``'s per-epoch data
    pipeline: on small heads that overhead, not the arithmetic, dominates. Features on disk
    (a ``np.memmap``, :mod:`ftcore.keras.feature_store`) are read one batch at a time, in the
    same order. ``sample_weight`` (one per example, e.g. from class weights) weights the
    training loss as ``fit(sample_weight=...)`` does. Callbacks get the epoch- and
    train-level hooks (not per-batch ones); ``head.stop_training`` is honoured.

    >>> head = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    >>> head.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    >>> h = fit_features(head, np.ones((4, 3), "float32"), np.array([0, 1, 0, 1]), epochs=2,
    ...                  batch_size=2, shuffle=False)
    >>> sorted(h), len(h["loss"])
    (['accuracy', 'loss'], 2)
    """
    head.evaluate(features[:batch_size], y[:batch_size], verbose=0)  # builds loss and metrics
    if not head.optimizer.built:
        head.optimizer.build(head.trainable_variables)
    sw = np.ones(len(y), "float32") if sample_weight is None else sample_weight.astype("float32")
    run_epoch = (_disk_epoch if isinstance(features, np.memmap) else _ram_epoch)(
        head, features, y, sw, batch_size
    )
    history = keras.callbacks.History()
    cbs = keras.callbacks.CallbackList([*callbacks, history], model=head, epochs=epochs)
    head.stop_training = False
    cbs.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        cbs.on_epoch_begin(epoch)
        head.reset_metrics()
        run_epoch(tf.random.shuffle(tf.range(len(features))) if shuffle else None)
        logs = {k: float(v) for k, v in head.get_metrics_result().items()}
        if validation_data is not None:
            val = head.evaluate(_batches(*validation_data, batch_size), verbose=0, return_dict=True)
            logs.update({f"val_{k}": float(v) for k, v in val.items()})
        cbs.on_epoch_end(epoch, logs)
        if head.stop_training:
            break
    cbs.on_train_end()
    return history.history


def _ram_epoch(head, features, y, sw, batch_size):
    x_all, y_all, w_all = tf.constant(features), tf.constant(y), tf.constant(sw)

    @tf.function
    def run(xs, ys, ws):
        for start in tf.range(0, tf.shape(xs)[0], batch_size):
            end = start + batch_size
            head.train_step((xs[start:end], ys[start:end], ws[start:end]))

    def epoch(order):
        if order is None:
            return run(x_all, y_all, w_all)
        return run(*(tf.gather(t, order) for t in (x_all, y_all, w_all)))

    return epoch


def _disk_epoch(head, features, y, sw, batch_size):
    step = tf.function(head.train_step, reduce_retracing=True)

    def epoch(order):
        index = np.arange(len(features)) if order is None else order.numpy()
        for start in range(0, len(index), batch_size):
            rows = index[start : start + batch_size]
            if order is None:
                rows = slice(start, start + batch_size)
            step((np.asarray(features[rows]), y[rows], sw[rows]))

    return epoch


def _batches(x, y, batch_size: int):
    """``(x, y)`` for ``evaluate``: the arrays, or a dataset reading a memmap batch by batch."""
    if not isinstance(x, np.memmap):
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)

    def gen():
        for start in range(0, len(x), batch_size):
            yield np.asarray(x[start : start + batch_size]), y[start : start + batch_size]

    spec = (
        tf.TensorSpec((None, *x.shape[1:]), x.dtype),
        tf.TensorSpec((None, *y.shape[1:]), y.dtype),
    )
    n = -(-len(x) // batch_size)
    ds = tf.data.Dataset.from_generator(gen, output_signature=spec)
    return ds.apply(tf.data.experimental.assert_cardinality(n))
