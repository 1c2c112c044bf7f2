"""Keras 3 ``fit``/``predict`` under ``tf.distribute.MultiWorkerMirroredStrategy`` with more
than one worker.

Keras 3.15's TensorFlow trainer fails there before the first step (keras-team/keras#20585):

1. ``_maybe_symbolic_build`` calls ``strategy.reduce("MEAN", batch)`` on the whole nested
   ``(x, y)`` batch, which the collective strategy cannot reduce ("Attempt to convert a value
   (PerReplica...) to a Tensor");
2. every step reduces its scalar metrics with ``strategy.reduce("MEAN", v, axis=0)``, which
   fails on a rank-0 tensor ("Invalid reduction dimension 0 for input with 0 dimensions").

:func:`allow_multi_worker` fixes both on one model instance: the model builds when its step
function is traced (Keras' own path when no strategy was captured at construction; the step
still runs under the strategy's scope), and its train/test steps return each scalar metric as
a one-element vector, which the axis-0 mean reduces across workers into the global value.
Gradients are untouched: Keras all-reduces them across workers as always.

    >>> import tensorflow as tf
    >>> is_multi_worker(tf.distribute.get_strategy())
    False
"""

from __future__ import annotations

import keras
import tensorflow as tf

from ftcore.keras.internals import clear_captured_strategy


def is_multi_worker(strategy: tf.distribute.Strategy | None) -> bool:
    """True for a ``MultiWorkerMirroredStrategy`` whose cluster has more than one worker."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and bool(
        strategy.extended._in_multi_worker_mode()  # noqa: SLF001 - Keras checks the same flag
    )


def _vector_logs(step):
    def wrapped(data):
        logs = step(data)
        return {k: tf.reshape(v, [1]) if v.shape.rank == 0 else v for k, v in logs.items()}

    return wrapped


def allow_multi_worker(model: keras.Model) -> keras.Model:
    """Let ``model.fit``/``evaluate``/``predict`` run under a multi-worker strategy (in place).

    Idempotent; call it on a compiled or uncompiled model inside the strategy's scope.
    """
    if getattr(model, "_ftcore_multi_worker", False):
        return model
    clear_captured_strategy(model)  # build at trace time, see the module doc
    model.train_step = _vector_logs(model.train_step)
    model.test_step = _vector_logs(model.test_step)
    model._ftcore_multi_worker = True  # noqa: SLF001
    return model
