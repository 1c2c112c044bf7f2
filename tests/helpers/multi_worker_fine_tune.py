"""One process of a two-stage ftcore fine-tuning: a worker of a
``MultiWorkerMirroredStrategy`` cluster when ``TF_CONFIG`` is set, else the single-process
reference. Writes ``<out>.npz`` (final weights, in ``model.get_weights()`` order) and
``<out>.json`` (replicas, per-stage trained layers and caching, which layers moved).

    TF_CONFIG='{"cluster": {"worker": ["127.0.0.1:2222", "127.0.0.1:2223"]},
                "task": {"type": "worker", "index": 0}}' \
        python -m tests.helpers.multi_worker_fine_tune --out /tmp/w0 --seed 0
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: Base block 0 has BatchNormalization (frozen throughout); stage 2 unfreezes from ``b1_conv``,
#: which has none (per-replica batch statistics would differ from one process's by design).
SPEC = {"kind": "conv", "blocks": [(3, True, False), (4, False, False)], "head_bn": False}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy() if "TF_CONFIG" in os.environ else None

    from ftcore.keras import fine_tune, head_stage, unfreeze_stage
    from tests.helpers.keras_nets import build_net, changed, data_for, snapshot

    model = build_net(SPEC, seed=args.seed)
    x, y = data_for(model, 32, seed=args.seed)
    before = snapshot(model)
    stages = [
        head_stage(2, 0.05, "momentum"),
        unfreeze_stage("b1_conv", 1, 0.05, "adam", discriminative=0.1),
    ]
    result = fine_tune(model, x, y, stages, batch_size=16, shuffle=False, strategy=strategy)
    moved = {path: any(v.values()) for path, v in changed(before, snapshot(model)).items()}
    np.savez(args.out + ".npz", *model.get_weights())
    report = {
        "replicas": strategy.num_replicas_in_sync if strategy else 1,
        "trained": [s.trained for s in result.stages],
        "cached": [s.cached for s in result.stages],
        "moved": moved,
        "order": list(moved),
    }
    with open(args.out + ".json", "w") as f:
        json.dump(report, f)


if __name__ == "__main__":
    main()
