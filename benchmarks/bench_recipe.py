"""The seed recipe's two stages, plain Keras against ftcore (``plain_keras_recipe.py``): the
stage-1, stage-2 and end-to-end times and images/s of both arms, interleaved, in
``extra_info``. With ``--benchmark-disable`` a smoke round (64 images, 1 + 1 epochs).

    pytest benchmarks/bench_recipe.py --benchmark-autosave
"""

from __future__ import annotations

import pytest
from plain_keras_recipe import SMOKE, Recipe, format_summary, run, weights_path


@pytest.mark.slow
@pytest.mark.pretrained
def test_recipe_against_plain_keras(benchmark, fetch_pretrained):
    weights = weights_path(fetch_pretrained("mobilenet-v1-keras"))
    fetch_pretrained("mnist-5k")
    recipe, rounds = (SMOKE, 1) if benchmark.disabled else (Recipe(), 3)
    table = benchmark.pedantic(run, args=(recipe, rounds, 0, weights), rounds=1, iterations=1)
    benchmark.extra_info.update(table)
    print("\n" + format_summary(table, recipe, rounds))
    for part in ("stage1", "stage2", "end_to_end"):
        assert table[part]["keras_s"] > 0 and table[part]["ftcore_s"] > 0
    # same initial variables, same batches: the two arms end with the same weights
    assert table["max_weight_diff"] < 1e-3 < table["max_weight_change"], table
