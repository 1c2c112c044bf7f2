"""The largest weight difference between a stage trained on the prefix cache and the same stage
trained through the whole model: the measurement behind ``RTOL, ATOL`` in
``tests/unit/keras/test_prefix_cache.py`` (whose tiny models it uses).

Seeds x optimizers (SGD, momentum, Adam) x the chain model (cut at ``dw2``) and the residual
one (cut at ``e``, the add reading the cut tensor); 3 epochs at lr 0.05, no shuffling. Prints
each pair's largest absolute and relative difference (relative to ``max(|w|, 1e-3)``), how
far training moved the weights, and the worst pair::

    python benchmarks/cache_tolerance.py --seeds 10
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=10)
    a = p.parse_args(argv)
    sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "unit" / "keras")]
    from test_prefix_cache import _train, chain_model, max_difference, residual_model

    from ftcore.keras import unfreeze_stage

    worst = (0.0, 0.0)
    models = [(chain_model, "dw2"), (residual_model, "e")]
    for seed, opt, (make, start) in itertools.product(
        range(a.seeds), ["sgd", "momentum", "adam"], models
    ):
        stage = unfreeze_stage(start, 3, 0.05, opt)
        (cached, c), (through, t) = (_train(make, stage, k, seed, seed) for k in (True, False))
        if not c.cached or t.cached:
            raise AssertionError(f"not the two paths: {c.cache_blockers}")
        d, moved = max_difference(cached, through), max_difference(make(seed), through)[0]
        worst = (max(worst[0], d[0]), max(worst[1], d[1]))
        print(f"{seed} {opt:8} {make.__name__:14} abs {d[0]:.2e} rel {d[1]:.2e} moved {moved:.2e}")
    print(f"worst: abs {worst[0]:.2e}, rel {worst[1]:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
