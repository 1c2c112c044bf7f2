"""Throughput of frozen (constants, BN folded) vs restored (variables) MobileNetV2 inference.

Groups are ``<model> <device> batch <N>``, so each frozen/restored (and onnxruntime) set
sits side by side and ``--benchmark-compare`` lines up runs. ``extra_info`` records
``images_per_second`` (batch / median time per call).

    pytest benchmarks/bench_inference.py --benchmark-autosave
    pytest benchmarks/bench_inference.py --benchmark-compare --benchmark-compare-fail=median:10%
    pytest benchmarks/ --benchmark-disable     # smoke mode: each case runs once
"""

from __future__ import annotations

import importlib.util

import pytest

BATCHES = (1, 8, 32)
DEVICES = [pytest.param("cpu"), pytest.param("gpu", marks=pytest.mark.gpu)]


def _measure(benchmark, run, x, **info):
    """Benchmark ``run(x)``, record images/s; returns the output of one call."""
    batch = len(x)
    benchmark.group = f"{info['model']} {info['device']} batch {batch}"
    benchmark.extra_info.update(info, batch=batch)
    if not benchmark.disabled:
        run(x)  # warm up: the first calls build kernels and run grappler
        run(x)
    out = benchmark(run, x)
    if benchmark.stats is not None:
        benchmark.extra_info["images_per_second"] = batch / benchmark.stats.stats.median
    return out


# Bottom decorator varies slowest: each frozen/restored pair runs back to back (same load).
@pytest.mark.parametrize("path", ["frozen", "restored"])
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("model", ["slim", "keras"])
def test_inference_throughput(benchmark, predictors, inference_batch, model, device, batch, path):
    predictor = predictors(model, path, device)
    out = _measure(
        benchmark, predictor, inference_batch(batch), model=model, path=path, device=device
    )
    assert out.shape == (batch, 1001 if model == "slim" else 1000)


def _onnx_session(pb, input_name: str, output_name: str):
    import onnxruntime
    import tf2onnx

    from ftcore.graph_safety import load_graph_def

    model_proto, _ = tf2onnx.convert.from_graph_def(
        load_graph_def(pb), input_names=[input_name], output_names=[output_name]
    )
    session = onnxruntime.InferenceSession(
        model_proto.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return lambda x: session.run([output_name], {input_name: x})[0]


@pytest.mark.skipif(
    not (importlib.util.find_spec("onnxruntime") and importlib.util.find_spec("tf2onnx")),
    reason="optional comparison: onnxruntime and tf2onnx are not installed",
)
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("model", ["slim", "keras"])
def test_onnxruntime_throughput(benchmark, request, inference_batch, model, batch):
    from ftcore.freeze import read_sidecar

    _, pb = request.getfixturevalue(f"{model}_export")
    sidecar = read_sidecar(pb)
    run = _onnx_session(pb, sidecar.inputs[0].name, sidecar.outputs[0].name)
    out = _measure(
        benchmark, run, inference_batch(batch), model=model, path="onnxruntime", device="cpu"
    )
    assert out.shape[0] == batch
