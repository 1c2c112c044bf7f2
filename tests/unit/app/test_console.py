"""A clean console: the CLI hides the TensorFlow messages known to be harmless, keeps every other
line, and ``--verbose`` shows all (real ``ftcore`` processes, stderr as a user sees it)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from ftcore.app.console import NATIVE_NOISE, is_noise
from ftcore_fixtures import photo_paths
from tests.helpers.graph_nets import PREDICTIONS

DEPRECATION = "convert_variables_to_constants (from tensorflow.python.framework"
SAMPLES = [  # one real line per NATIVE_NOISE pattern, as TF 2.21 prints them
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1795932480.158692   13765 port.cc:153] oneDNN custom operations are on. You may",
    "I0000 00:00:1795932480.159563   13765 cudart_stub.cc:31] Could not find cuda drivers on your "
    "machine, GPU will not be used.",
    "E0000 00:00:1795932480.572000   13765 cuda_platform.cc:52] failed call to cuInit: INTERNAL: "
    "CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
    "I0000 00:00:1795932436.797900   12960 cpu_feature_guard.cc:227] This TensorFlow binary is "
    "optimized to use available CPU instructions in performance-critical operations.",
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with "
    "the appropriate compiler flags.",
    "E0000 00:00:1795932481.934639   13765 node_def_util.cc:682] NodeDef mentions attribute "
    "use_unbounded_threadpool which is not in the op definition: Op<name=MapDataset; ...>",
    "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
    "fully_quantize: 0, inference_type: 6, input_inference_type: INT8, output_inference_type: INT8",
]
KEPT = [
    "E0000 00:00:1795932481.934639   13765 node_def_util.cc:682] NodeDef mentions attribute foo",
    "W0000 00:00:1.0   1 op_kernel.cc:1857] OP_REQUIRES failed: Out of memory",
    "ftcore freeze: error: no such file or directory: x.pb",
]


def _env() -> dict[str, str]:
    """The environment of a user who has not tuned TensorFlow's logging."""
    return {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}


def test_each_pattern_matches_its_sample_and_nothing_else():
    assert len(SAMPLES) == len(NATIVE_NOISE)
    assert all(is_noise(line) for line in SAMPLES)
    assert not any(is_noise(line) for line in KEPT)


@pytest.mark.parametrize("verbose", [False, True])
def test_filter_drops_known_noise_and_keeps_the_rest(verbose):
    """Lines written to fd 2 (as C++ does) and to the tensorflow logger, in a real process."""
    script = textwrap.dedent(
        f"""
        import logging, os, sys
        from ftcore.app.console import quiet_console
        lines = {SAMPLES + KEPT!r}
        with quiet_console(verbose={verbose}):
            for line in lines:
                os.write(2, (line + "\\n").encode())
            log = logging.getLogger("tensorflow")
            log.addHandler(logging.StreamHandler(sys.stderr))
            log.warning("From /x/pb.py:68: {DEPRECATION}.convert_to_constants) is deprecated and "
                        "will be removed in a future version.\\nInstructions for updating: ...")
            log.warning("From /x/y.py:1: some_other_api (from tensorflow.python.x) is deprecated")
            print("last words", file=sys.stderr)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=_env()
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    for line in KEPT + ["last words"]:
        assert line in lines
    assert "some_other_api" in result.stderr  # other deprecations are kept
    if verbose:
        assert all(line in lines for line in SAMPLES) and DEPRECATION in result.stderr
    else:
        assert not any(is_noise(line) for line in lines) and DEPRECATION not in result.stderr


def _ftcore(*argv: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "ftcore.app.cli", *argv],
        capture_output=True,
        text=True,
        timeout=600,
        env=_env(),
    )
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.slow
def test_cli_stderr_is_clean_and_verbose_shows_all(slim_ckpt, tmp_path):
    inspect = _ftcore("inspect", slim_ckpt)
    freeze = _ftcore(
        "freeze", slim_ckpt, "--output", str(tmp_path / "a.pb"), "--outputs", PREDICTIONS
    )
    int8 = _ftcore(  # the quantizer echoes its settings; the photos calibrate (4: 3 + 1 held out)
        "freeze",
        slim_ckpt,
        "--format",
        "tflite",
        "--int8",
        str(photo_paths()["chelsea_cat"].parent),
        "--min-agreement",
        "0",
        "--output",
        str(tmp_path / "q.tflite"),
        "--outputs",
        PREDICTIONS,
    )
    for result in (inspect, freeze, int8):  # other lines may be machine-specific (GPU): kept
        assert not any(is_noise(line) for line in result.stderr.splitlines()), result.stderr
        assert DEPRECATION not in result.stderr
    assert "MobilenetV2/Conv/weights" in inspect.stdout and "wrote" in freeze.stdout
    assert "int8: top-1 agreement" in int8.stdout and "fully_quantize" not in int8.stderr
    verbose = _ftcore(
        "--verbose",
        "freeze",
        slim_ckpt,
        "--output",
        str(tmp_path / "b.pb"),
        "--outputs",
        PREDICTIONS,
    )
    assert DEPRECATION in verbose.stderr
    assert any(is_noise(line) for line in verbose.stderr.splitlines()), verbose.stderr
