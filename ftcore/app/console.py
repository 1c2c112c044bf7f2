"""A clean console for the CLI: drop the TensorFlow messages known to be harmless on the
supported versions (TF 2.20-2.21, Keras 3), keep everything else; ``ftcore --verbose`` keeps all.

Three layers, each as narrow as the message allows:

- ``TF_CPP_MIN_LOG_LEVEL=2`` (unless the user set it) before TensorFlow is imported: C++ INFO and
  WARNING lines logged after absl is initialized;
- a filter on the ``tensorflow`` Python logger for the deprecation notices of the TF1 APIs ftcore
  calls on purpose (:data:`PYTHON_NOISE`);
- a line filter on file descriptor 2 (a small child process reading a pipe, so nothing is lost
  if this process dies) for what C++ writes before absl's logging is initialized or at ERROR
  level although harmless (:data:`NATIVE_NOISE`); every other line passes through unchanged.

    >>> is_noise("E0000 00:00:1.0   1 cuda_platform.cc:52] failed call to cuInit: CUDA error")
    True
    >>> is_noise("E0000 00:00:1.0   1 some_kernel.cc:12] Out of memory")
    False
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator

#: Native stderr lines (regex searched in each line) and why each is harmless.
NATIVE_NOISE: dict[str, str] = {
    r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR": "absl's notice that early log lines go to stderr",
    r"\] oneDNN custom operations are on\.": "oneDNN banner (informational)",
    r"cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine": "no GPU: CPU is used",
    r"\] failed call to cuInit: ": "no usable GPU driver: CPU is used",
    r"cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized to use available CPU": "build-flags banner",
    r"^To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler": "second line of the build-flags banner",
    r"\] NodeDef mentions attribute use_unbounded_threadpool which is not in the op definition": "tf.data attribute newer than the runtime's op registry; ignored by TF, once per epoch",
    r"^INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.$": "the LiteRT interpreter's default CPU delegate (every .tflite load)",
    r"^fully_quantize: \d+, inference_type: \d+, input_inference_type: \w+, output_inference_type: \w+$": "the TFLite quantizer echoing its settings (every int8 export)",
}

#: ``tensorflow`` logger messages (regex) for TF1 APIs ftcore uses deliberately.
PYTHON_NOISE: dict[str, str] = {
    r"^From .*: (convert_variables_to_constants|extract_sub_graph) \(from tensorflow\.python"
    r"\.framework\.\w+\) is deprecated and will be removed in a future version\.": "freezing a TF1 session graph is what ftcore exports; the v1 API is supported",
}

_NATIVE = re.compile("|".join(f"(?:{p})" for p in NATIVE_NOISE))
_PYTHON = re.compile("|".join(f"(?:{p})" for p in PYTHON_NOISE), re.DOTALL)

# Runs in a child process: stdin is the pipe fd 2 was pointed at; stderr is the real one.
_FILTER_PROCESS = r"""
import re, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the CLI; this drains its last lines
noise, out = re.compile(sys.argv[1]), sys.stderr.buffer
for line in sys.stdin.buffer:
    if not noise.search(line.decode("utf-8", "replace")):
        out.write(line)
        out.flush()
"""


def is_noise(line: str) -> bool:
    """Whether a native stderr line is one of :data:`NATIVE_NOISE`."""
    return _NATIVE.search(line) is not None


class _DropKnownNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return _PYTHON.search(record.getMessage()) is None


@contextlib.contextmanager
def _native_filter() -> Iterator[None]:
    sys.stderr.flush()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _FILTER_PROCESS, _NATIVE.pattern],
            stdin=subprocess.PIPE,
        )
        saved = os.dup(2)
    except OSError:  # no fd 2 or no way to start the filter: print unfiltered
        yield
        return
    os.dup2(proc.stdin.fileno(), 2)
    proc.stdin.close()  # fd 2 is now the pipe's only write end here
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe: the filter writes what is left and exits
        os.close(saved)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)  # a child process still holding the pipe keeps it alive


@contextlib.contextmanager
def quiet_console(verbose: bool = False) -> Iterator[None]:
    """Within this block, drop the known-harmless TensorFlow messages (nothing when ``verbose``).

    Enter it before TensorFlow is imported: the C++ log level is read once, at import.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if verbose else "2")
    if verbose:
        yield
        return
    tf_logger, drop = logging.getLogger("tensorflow"), _DropKnownNoise()
    tf_logger.addFilter(drop)
    try:
        with _native_filter():
            yield
    finally:
        tf_logger.removeFilter(drop)
