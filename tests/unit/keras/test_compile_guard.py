"""The compile guard: Keras 3 ignores trainable changes after compile(); ftcore recompiles and refuses a stale compile."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from ftcore.errors import StaleCompileError
from ftcore.keras import (
    CompileGuard,
    check_compiled,
    compile_model,
    fine_tune,
    head_stage,
    unfreeze_stage,
)
from tests.helpers.keras_nets import data_for
from tests.helpers.keras_nets import tiny_net as _tiny


def test_keras_ignores_trainable_changes_after_compile_and_the_guard_raises():
    model = _tiny()
    x, y = data_for(model, 8)
    compile_model(model, keras.optimizers.SGD(0.1))
    check_compiled(model)
    model.fit(x, y, epochs=1, verbose=0)
    model.get_layer("head_logits").trainable = False  # after compile + fit: Keras 3 ignores it
    before = model.get_layer("head_logits").get_weights()[0].copy()
    model.fit(x, y, epochs=1, verbose=0)
    moved = not np.array_equal(before, model.get_layer("head_logits").get_weights()[0])
    assert moved, "Keras 3 honours post-compile freezing now: revisit the compile guard"
    with pytest.raises(StaleCompileError, match="frozen since: .*head_logits"):
        check_compiled(model)
    with pytest.raises(StaleCompileError, match="Recompile"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[CompileGuard()])
    compile_model(model, keras.optimizers.SGD(0.1))
    check_compiled(model)


def test_guard_refuses_a_model_compiled_outside_ftcore():
    model = _tiny()
    model.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(StaleCompileError, match="not compiled with .*compile_model"):
        check_compiled(model)


def test_each_stage_recompiles_what_it_trains():
    model = _tiny()
    x, y = data_for(model, 8)
    fine_tune(model, x, y, [head_stage(1), unfreeze_stage("base", 1)], cache_features=False)
    check_compiled(model)
    compiled = {v.path for v in model.trainable_variables}
    assert compiled == {v.path for v in model.weights if v.trainable}
    assert any(v.path.startswith("b") for v in model.trainable_variables)
