"""Throughput of frozen (constants, BN folded) vs restored (variables) MobileNetV2 inference,
the LiteRT export (``tflite``, CPU) and (optional) onnxruntime on the same frozen graph
converted by tf2onnx. Every path is checked against the restored model before it is timed
(see ``mobilenet_224.check_against_restored``); ``extra_info["runtime"]`` names what ran it
(the LiteRT interpreter and its version, onnxruntime's, or TensorFlow's).

Groups are ``<model> <device> batch <N>``, so each frozen/restored/onnxruntime set sits side
by side and ``--benchmark-compare`` lines up runs. ``extra_info`` records ``images_per_second``
(batch / median time per call) and, on the restored and onnxruntime rows, the
``frozen_over_<path>`` throughput ratio against the frozen row of the same run. The
onnxruntime rows are skipped, with the reason, when onnxruntime or tf2onnx is not installed;
when they run, onnxruntime's outputs are first checked against TF's (see ``mobilenet_224``).

    pytest benchmarks/bench_inference.py --benchmark-autosave
    pytest benchmarks/bench_inference.py --benchmark-compare --benchmark-compare-fail=median:10%
    pytest benchmarks/ --benchmark-disable     # smoke mode: each case runs once
"""

from __future__ import annotations

import pytest
from mobilenet_224 import MODELS, onnx_missing
from report import PATHS

BATCHES = (1, 8, 32)


def _cases():
    """(model, device, batch, path); path varies fastest, so each set runs back to back under
    the same machine load. onnxruntime and tflite are compared on CPU only."""
    no_onnx = onnx_missing()
    for model in MODELS:
        for device in ("cpu", "gpu"):
            for batch in BATCHES:
                for path in PATHS:
                    if path in ("onnxruntime", "tflite") and device != "cpu":
                        continue
                    marks = [pytest.mark.gpu] if device == "gpu" else []
                    if path == "onnxruntime" and no_onnx:
                        marks.append(pytest.mark.skip(reason=no_onnx))
                    yield pytest.param(
                        model,
                        device,
                        batch,
                        path,
                        marks=marks,
                        id=f"{model}-{device}-{batch}-{path}",
                    )


def _measure(benchmark, rates, run, x, **info):
    """Benchmark ``run(x)``, record images/s and the ratio to the frozen path of this run."""
    batch = len(x)
    benchmark.group = f"{info['model']} {info['device']} batch {batch}"
    benchmark.extra_info.update(info, batch=batch)
    if not benchmark.disabled:
        run(x)  # warm up: the first calls build kernels and run grappler
        run(x)
    out = benchmark(run, x)
    if benchmark.stats is not None:
        ips = batch / benchmark.stats.stats.median
        benchmark.extra_info["images_per_second"] = ips
        same = rates.setdefault((info["model"], info["device"], batch), {})
        same[info["path"]] = ips
        if info["path"] != "frozen" and "frozen" in same:
            benchmark.extra_info[f"frozen_over_{info['path']}"] = same["frozen"] / ips
    return out


@pytest.mark.parametrize(("model", "device", "batch", "path"), list(_cases()))
def test_inference_throughput(
    benchmark, predictors, rates, inference_batch, model, device, batch, path
):
    predictor = predictors(model, path, device)
    x = inference_batch(batch)
    out = _measure(
        benchmark,
        rates,
        predictor,
        x,
        model=model,
        path=path,
        device=device,
        runtime=predictor.runtime,
    )
    assert out.shape == (batch, 1001 if model == "slim" else 1000)
