"""One check for "these predictors agree with this reference", with one tolerance table.

Every agreement test of the export and predict wings goes through :func:`assert_agree`; the
tolerance is chosen by what separates the candidate from its reference, never per test:

- ``deep_export``: an exported (frozen, BN-folded) slim MobileNetV2, 52 convolutions deep,
  against the restored checkpoint: float32 reassociation grows with depth;
- ``small_export``: the same for the small Keras model (two convolutions);
- ``call_path``: one model called two ways (compiled ``tf.function`` against eager);
- ``interpreter``: one ``.tflite`` flatbuffer in two interpreters;
- ``onnx``: a tf2onnx conversion in onnxruntime against the restored model it was converted
  from (measured: at most 2.4e-7 on the slim MobileNetV2 test checkpoints, seeds 0-2, softmax
  outputs up to 0.49; 1.2e-7 on the small Keras models; allowed: 1e-6 + 1e-5 * |reference|);
- ``int8``: a full-integer model against its float model (one quantization step of a
  softmax output in [0, 1] is ~0.004; 0.05 allows the steps a few layers add up).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np

#: name -> (rtol, atol): |candidate - reference| <= atol + rtol * |reference|
TOLERANCES: dict[str, tuple[float, float]] = {
    "deep_export": (1e-3, 1e-5),
    "small_export": (1e-4, 1e-6),
    "call_path": (1e-5, 0.0),
    "interpreter": (1e-5, 1e-7),
    "onnx": (1e-5, 1e-6),
    "int8": (0.0, 0.05),
}


def assert_agree(
    reference: Callable,
    candidates: Mapping[str, Callable],
    batches: Iterable,
    tolerance: str,
) -> None:
    """Each candidate's output on each batch equals ``reference``'s within ``TOLERANCES[tolerance]``;
    an AssertionError names the candidate, the batch and the numbers otherwise."""
    rtol, atol = TOLERANCES[tolerance]
    for i, batch in enumerate(batches):
        want = np.asarray(reference(batch))
        for name, candidate in candidates.items():
            np.testing.assert_allclose(
                np.asarray(candidate(batch)),
                want,
                rtol=rtol,
                atol=atol,
                err_msg=f"{name} disagrees with the reference on batch {i} ({tolerance} tolerance)",
            )
