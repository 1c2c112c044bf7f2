"""roofline: the FLOP count from a frozen graph's shapes and the CPU peak from /proc/cpuinfo."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from roofline import cpu_peak, model_flops


def frozen(build) -> tf.compat.v1.GraphDef:
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 32, 32, 3], name="input")
        build(x)
    return graph.as_graph_def()


def convs(x):
    rng = np.random.default_rng(0)
    const = lambda *s: tf.constant(rng.normal(size=s).astype(np.float32))  # noqa: E731
    x = tf.nn.conv2d(x, const(3, 3, 3, 8), 2, "SAME")  # [1, 16, 16, 8]
    x = tf.nn.depthwise_conv2d(x, const(3, 3, 8, 2), [1, 1, 1, 1], "SAME")  # [1, 16, 16, 16]
    x = tf.reduce_mean(x, [1, 2])  # [1, 16]
    return tf.matmul(x, const(16, 10))


def test_flops_are_twice_the_conv_and_matmul_macs_at_batch_1():
    macs = 16 * 16 * 8 * (3 * 3 * 3) + 16 * 16 * 16 * (3 * 3) + 16 * 10
    assert model_flops(frozen(convs), "input:0") == 2 * macs


def test_a_graph_without_convs_is_refused():
    with pytest.raises(ValueError, match="no Conv2D, DepthwiseConv2dNative or MatMul"):
        model_flops(frozen(lambda x: tf.nn.relu6(x)), "input:0")


def cpuinfo(vendor: str, flags: str, cores: list[tuple[int, int]], mhz: float = 2000.0) -> str:
    return "\n\n".join(
        f"processor\t: {i}\nvendor_id\t: {vendor}\ncpu MHz\t\t: {mhz}\nphysical id\t: {s}\n"
        f"core id\t\t: {c}\nflags\t\t: {flags}"
        for i, (s, c) in enumerate(cores)
    )


def test_zen4_peak_counts_physical_cores_and_vnni():
    # four logical CPUs, two physical cores (SMT siblings share a core id)
    peak = cpu_peak(
        cpuinfo("AuthenticAMD", "fma avx2 avx512f avx512_vnni", [(0, 0), (0, 0), (0, 1), (0, 1)])
    )
    assert (peak.cores, peak.extension) == (2, "avx512_vnni")
    assert peak.fp32_gflops == pytest.approx(2 * 2.0 * 32)
    assert peak.int8_gops == pytest.approx(4 * peak.fp32_gflops)
    assert "2 cores x 2.000 GHz x 32 FLOP/cycle" in peak.formula()


def test_intel_avx512_without_vnni_and_two_sockets():
    peak = cpu_peak(cpuinfo("GenuineIntel", "fma avx2 avx512f", [(0, 0), (1, 0)], mhz=3000.0))
    assert (peak.cores, peak.fp32_per_cycle, peak.int8_per_cycle) == (2, 64, 128)


def test_unknown_cpu_is_refused():
    with pytest.raises(ValueError, match="no peak known for vendor HygonGenuine"):
        cpu_peak(cpuinfo("HygonGenuine", "fma avx2", [(0, 0)]))
    with pytest.raises(ValueError, match="no peak known for vendor AuthenticAMD"):
        cpu_peak(cpuinfo("AuthenticAMD", "sse4_2", [(0, 0)]))
