"""How close to the machine's limit a path runs: the model's arithmetic (counted once, from the
frozen graph's shapes) and the CPU's peak (estimated from ``/proc/cpuinfo``, as ``lscpu`` shows).

Arithmetic: ``2 x`` the multiply-accumulates of every ``Conv2D``, ``DepthwiseConv2dNative`` and
``MatMul`` at batch 1 (output elements x kernel height x width x input channels; depthwise:
without the input channels), shapes inferred by TensorFlow with the input fixed at batch 1.
Bias adds, Relu6, residual adds and the pooling are left out (under 1% of MobileNetV2's).

Peak: ``cores x clock x operations per cycle per core`` (physical cores: SMT siblings share
their core's vector pipes); the clock is ``cpu MHz`` (the nominal
or TSC clock a VM reports, not the boost clock), the operations per cycle are
:data:`OPS_PER_CYCLE` by vector extension.

    >>> peak = cpu_peak("processor : 0\\ncpu MHz : 2500.0\\nflags : fma avx2 avx512f avx512_vnni\\n"
    ...                 "vendor_id : AuthenticAMD\\n")
    >>> peak.fp32_gflops, peak.int8_gops
    (80.0, 320.0)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

#: (fp32 FLOP, int8 op) per cycle per core: (vendor, widest extension) -> counts. fp32: two FMA
#: pipes x lanes x 2; int8: two dot-product pipes x 4 int8 MACs per 32-bit lane x lanes x 2.
#: AMD Zen 4 runs AVX-512 on two 256-bit pipes (so 512-bit width buys no more FLOP per cycle);
#: Intel server cores with AVX-512 have two 512-bit FMA pipes. Without VNNI, int8 uses
#: VPMADDUBSW + VPMADDWD (half the dot-product rate: 2x fp32 instead of 4x).
OPS_PER_CYCLE = {
    ("AuthenticAMD", "avx512_vnni"): (32, 128),
    ("AuthenticAMD", "avx2"): (32, 64),
    ("GenuineIntel", "avx512_vnni"): (64, 256),
    ("GenuineIntel", "avx512f"): (64, 128),
    ("GenuineIntel", "avx2"): (32, 64),
}


@dataclasses.dataclass(frozen=True)
class Peak:
    """The CPU's estimated peak and how it was computed (``formula``)."""

    cores: int
    mhz: float
    extension: str
    fp32_per_cycle: int
    int8_per_cycle: int

    @property
    def fp32_gflops(self) -> float:
        return self.cores * self.mhz / 1e3 * self.fp32_per_cycle

    @property
    def int8_gops(self) -> float:
        return self.cores * self.mhz / 1e3 * self.int8_per_cycle

    def formula(self) -> str:
        ghz = f"{self.mhz / 1e3:.3f} GHz"
        return (
            f"peak fp32 = {self.cores} cores x {ghz} x {self.fp32_per_cycle} FLOP/cycle "
            f"({self.extension}) = {self.fp32_gflops:.0f} GFLOP/s; int8 = {self.cores} x {ghz} x "
            f"{self.int8_per_cycle} op/cycle = {self.int8_gops:.0f} GOP/s"
        )


def cpu_peak(cpuinfo: str | None = None) -> Peak:
    """The peak of the CPU described by ``cpuinfo`` (default: this machine's /proc/cpuinfo).

    ValueError when the vendor or vector extensions are not in :data:`OPS_PER_CYCLE`.
    """
    text = Path("/proc/cpuinfo").read_text() if cpuinfo is None else cpuinfo
    fields: dict[str, str] = {}
    cpus, cores, socket = 0, set(), "0"
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        cpus += key == "processor"
        socket = value if key == "physical id" else socket
        if key == "core id":  # SMT siblings share a core id: count physical cores
            cores.add((socket, value))
        fields.setdefault(key, value)
    vendor, flags = fields.get("vendor_id", "?"), set(fields.get("flags", "").split())
    for (v, extension), (fp32, int8) in OPS_PER_CYCLE.items():
        if v == vendor and extension in flags and "fma" in flags:
            return Peak(len(cores) or cpus, float(fields["cpu MHz"]), extension, fp32, int8)
    raise ValueError(
        f"no peak known for vendor {vendor} with flags {sorted(flags & {'avx2', 'avx512f', 'avx512_vnni', 'fma'})}; "
        f"known: {sorted(OPS_PER_CYCLE)}"
    )


def _macs(op, shapes: dict[str, list[int]]) -> int:
    out = int(np.prod(shapes[op.outputs[0].name]))
    kernel = shapes[op.inputs[1].name]
    if op.type == "Conv2D":
        return out * kernel[0] * kernel[1] * kernel[2]
    if op.type == "DepthwiseConv2dNative":
        return out * kernel[0] * kernel[1]
    a = shapes[op.inputs[0].name]  # MatMul [M, K] x [K, N]
    return out * (a[0] if op.get_attr("transpose_a") else a[1])


def model_flops(graph_def, input_name: str) -> int:
    """FLOPs of one image through ``graph_def`` (2 x conv/matmul MACs, batch 1).

    ValueError when a shape is unknown or the graph has no conv or matmul.
    """
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        shape = next(
            n.attr["shape"].shape for n in graph_def.node if n.name == input_name.split(":")[0]
        )
        x = tf.compat.v1.placeholder(tf.float32, [1] + [d.size for d in shape.dim[1:]])
        tf.graph_util.import_graph_def(graph_def, {input_name: x}, name="")
    counted = [
        op
        for op in graph.get_operations()
        if op.type in ("Conv2D", "DepthwiseConv2dNative", "MatMul")
    ]
    if not counted:
        raise ValueError("the graph has no Conv2D, DepthwiseConv2dNative or MatMul to count")
    shapes = {}
    for op in counted:
        for t in [op.outputs[0], *op.inputs[:2]]:
            if not t.shape.is_fully_defined():
                raise ValueError(f"{t.name} has no static shape at batch 1: {t.shape}")
            shapes[t.name] = t.shape.as_list()
    return 2 * sum(_macs(op, shapes) for op in counted)
