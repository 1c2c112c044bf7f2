"""A child process running one ftcore loader per request, for the fuzz tests: a crash or a hang
of a loader ends or stalls this process, and the parent (:class:`tests.helpers.fuzz.Worker`)
sees it, kills it and starts a fresh one.

Protocol: one JSON request per line on stdin, ``{"loader": NAME, "path": PATH}``; one JSON reply
per line on the original stdout, ``{"outcome": "ok"}`` or ``{"outcome": "error", "type": ...,
"ftcore": bool, "message": ..., "lines": n}``. Whatever a loader prints goes to stderr.

    python -m tests.helpers.loader_worker
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _predict_once(predictor) -> None:
    import numpy as np

    with predictor:
        shape = [d or 1 for d in predictor.input_shape]
        predictor.predict(np.zeros([1, *shape], np.float32))


def loaders() -> dict[str, Callable[[str], object]]:
    """Loader name -> a function of the fuzzed file's path (every public loader of ftcore)."""
    import keras

    from ftcore.app.cli import main
    from ftcore.graph.checkpoint_files import checkpoint_contents
    from ftcore.graph.restore import load_meta_graph
    from ftcore.graph.safety import load_graph_def
    from ftcore.keras.backbone import load_checked_weights
    from ftcore.predict.images import load_image
    from ftcore.predict.predictor import load
    from ftcore.sidecar import read_sidecar
    from tests.helpers.exports import small_keras_model
    from tests.helpers.graph_nets import PREDICTIONS

    def cli(*argv: str) -> None:
        code = main(list(argv))
        if code not in (0, 1):
            raise RuntimeError(f"ftcore {' '.join(argv)} exited {code}")

    def weights(path: str) -> None:
        keras.utils.clear_session()  # layer names as in the sample (conv2d, not conv2d_7)
        load_checked_weights(small_keras_model(), path)

    def sidecar(path: str) -> None:
        read_sidecar(path[: -len(".json")])

    return {
        "load_graph_def": load_graph_def,
        "load_meta_graph": load_meta_graph,
        "checkpoint_contents": lambda p: checkpoint_contents(p, verify=True),
        # the output name applies to graphs only (load refuses it for .keras and .tflite)
        "predictor.load": lambda p: _predict_once(
            load(p) if p.endswith((".keras", ".tflite", ".onnx")) else load(p, output=PREDICTIONS)
        ),
        "load_checked_weights": weights,
        "load_image": lambda p: load_image(p, 32),
        "read_sidecar": sidecar,
        "ftcore inspect": lambda p: cli("inspect", p),
    }


def _reply(e: BaseException | None) -> dict:
    from ftcore.errors import FtcoreError

    if e is None:
        return {"outcome": "ok"}
    message = str(e)
    return {
        "outcome": "error",
        "type": f"{type(e).__module__}.{type(e).__qualname__}",
        "ftcore": isinstance(e, FtcoreError),
        "message": message[:600],
        "lines": len(message.splitlines()),
    }


def main() -> None:
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # loaders' prints must not mix with the replies
    table = loaders()
    replies.write(json.dumps({"ready": sorted(table)}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        try:
            table[request["loader"]](str(Path(request["path"])))
            reply = _reply(None)
        except Exception as e:  # noqa: BLE001 - reporting the type is the point
            reply = _reply(e)
        replies.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()
