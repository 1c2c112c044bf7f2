"""The compile guard: Keras 3 silently ignores ``trainable`` changes made after ``compile()``.

ftcore's rule: every stage sets its flags and then compiles a fresh optimizer
(:func:`compile_model` records the trainable set), and :func:`check_compiled` /
:class:`CompileGuard` **raise** :class:`~ftcore.errors.StaleCompileError` when a model's
trainable variables differ from those it was compiled with. ftcore never recompiles behind
the user's back.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from ftcore.errors import StaleCompileError


def compile_model(
    model: keras.Model,
    optimizer,
    loss="sparse_categorical_crossentropy",
    metrics: Sequence = ("accuracy",),
) -> None:
    """``model.compile`` that records which variables are trainable, for :func:`check_compiled`.

    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> compile_model(m, "sgd", "mse", ()); check_compiled(m)
    """
    model.compile(optimizer=optimizer, loss=loss, metrics=list(metrics))
    model._ftcore_compiled_vars = _trainable_ids(model)


def _trainable_ids(model: keras.Model) -> dict[int, str]:
    return {id(v): v.path for v in model.trainable_variables}


def check_compiled(model: keras.Model) -> None:
    """Raise :class:`StaleCompileError` if ``model``'s trainable flags changed since compile.

    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, name="d")])
    >>> compile_model(m, "sgd", "mse", ()); m.layers[0].trainable = False
    >>> check_compiled(m)
    Traceback (most recent call last):
    ftcore.errors.StaleCompileError: model '...' was compiled with other trainable flags ...
    """
    recorded = getattr(model, "_ftcore_compiled_vars", None)
    if recorded is None:
        raise StaleCompileError(
            f"model {model.name!r} was not compiled with ftcore.keras.compile_model, "
            "so its compiled trainable set is unknown; compile it with compile_model"
        )
    now = _trainable_ids(model)
    frozen = sorted(p for i, p in recorded.items() if i not in now)
    thawed = sorted(p for i, p in now.items() if i not in recorded)
    if frozen or thawed:
        parts = [
            f"frozen since: {', '.join(frozen[:5])}" if frozen else "",
            f"unfrozen since: {', '.join(thawed[:5])}" if thawed else "",
        ]
        raise StaleCompileError(
            f"model {model.name!r} was compiled with other trainable flags "
            f"({'; '.join(p for p in parts if p)}); Keras 3 would ignore the change. "
            "Recompile (compile_model) after changing trainable flags"
        )


class CompileGuard(keras.callbacks.Callback):
    """Callback that calls :func:`check_compiled` when ``fit`` starts.

    >>> import numpy as np
    >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> compile_model(m, "sgd", "mse", ())
    >>> _ = m.fit(np.zeros((2, 2)), np.zeros((2, 1)), callbacks=[CompileGuard()], verbose=0)
    """

    def on_train_begin(self, logs=None):
        check_compiled(self.model)
