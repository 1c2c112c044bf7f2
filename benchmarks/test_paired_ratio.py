"""paired_ratio: the interleaved rates, the cores-busy figure and the --fair table rows."""

from __future__ import annotations

import time

import numpy as np
from paired_ratio import fair_rows, paired_rates
from roofline import Peak


def test_fair_rows_give_each_path_against_its_peer_and_the_peak():
    peak = Peak(cores=2, mhz=2000.0, extension="avx512_vnni", fp32_per_cycle=32, int8_per_cycle=128)
    ips = {"tflite-int8": 300.0, "onnxruntime-int8": 200.0}
    cores = {"tflite-int8": 1.9, "onnxruntime-int8": 2.0, "frozen": 1.0, "tflite": 1.04}
    waits = {"tflite-int8": 31.0, "onnxruntime-int8": 1.0, "frozen": 2.0, "tflite": 30.0}
    rows = fair_rows("keras", "int8", 8, ips, 0.6, peak, cores, waits)  # int8 peak: 512 GOP/s
    assert rows == [
        "| keras | int8 | 8 | tflite-int8 | 300.0 | 1.50x | 180.0 | 35% | 1.90 | 31 |",
        "| keras | int8 | 8 | onnxruntime-int8 | 200.0 | (peer) | 120.0 | 23% | 2.00 | 1 |",
    ]
    ips = {"frozen": 64.0, "tflite": 128.0, "onnxruntime": 128.0}
    cores["onnxruntime"], waits["onnxruntime"] = 2.0, 0.0
    rows = fair_rows("keras", "float", 1, ips, 0.5, peak, cores, waits)  # fp32 peak: 128 GFLOP/s
    assert rows[0] == "| keras | float | 1 | frozen | 64.0 | 0.50x | 32.0 | 25% | 1.00 | 2 |"
    assert rows[1] == "| keras | float | 1 | tflite | 128.0 | 1.00x | 64.0 | 50% | 1.04 | 30 |"


def test_cores_busy_counts_cpu_time_not_wall_time():
    def work(x):  # one thread computing for 20 ms of CPU time
        end = time.thread_time() + 0.02
        while time.thread_time() < end:
            pass

    def idle(x):
        time.sleep(0.02)

    cores: dict = {}
    paired_rates({"work": work, "idle": idle}, np.zeros((1, 1)), 3, 0.0, cores=cores)
    assert cores["idle"] < 0.2
    assert cores["idle"] < cores["work"] <= 1.05  # one thread's CPU time never exceeds wall time


def test_waits_count_the_blocking_waits_of_every_thread():
    import threading

    def handoffs(x):  # a worker woken five times, blocking after each: five waits at least
        go, done = threading.Semaphore(0), threading.Semaphore(0)

        def worker():
            for _ in range(5):
                go.acquire()
                done.release()

        t = threading.Thread(target=worker)
        t.start()
        for _ in range(5):
            time.sleep(0.002)  # the worker has blocked on go by now (a wait) or soon will
            go.release()
            done.acquire()
        t.join()

    def compute(x):
        return sum(range(20000))

    waits: dict = {}
    paired_rates({"handoffs": handoffs, "compute": compute}, np.zeros(1), 3, 0.0, waits=waits)
    assert waits["handoffs"] >= 5
    assert waits["compute"] < waits["handoffs"]
