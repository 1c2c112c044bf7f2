"""Full-integer int8 vs float LiteRT exports: accuracy on a fine-tuned model's held-out set and
speed, side by side (``ftcore.export.litert``; both exports self-checked, the int8 one refused
below its agreement threshold).

Models: the fixture Keras MobileNet 0.25 (cut at ``conv_dw_6_relu``, conv head, head stage then
``conv_dw_5`` unfrozen) and the slim MobileNetV2 0.35 graph (head at ``expanded_conv_14``, then
blocks 13-14 at lr/10), fine-tuned on the target task's 50 training digits (5-9) with each seed,
calibrated on those same 50 training images, evaluated on the 448 held-out digits. Speed: both
models interleaved call by call at batch 1 and 32; ``--mobilenet-224`` adds a speed-only row
for MobileNetV2 1.0 at 224 (random weights: calibrated on the shipped photos and digits,
threshold 0: its agreement means nothing).

    python benchmarks/int8_table.py --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paired_ratio import cpu_model, paired_rates  # noqa: E402

KERAS_CUT, KERAS_UNFREEZE = "conv_dw_6_relu", "conv_dw_5"


def fine_tuned_keras(pretrained, task, seed: int):
    """The fixture Keras MobileNet fine-tuned on ``task`` (the demo's quick budget)."""
    import keras

    from ftcore.keras.backbone import cut, load_backbone
    from ftcore.keras.finetune import fine_tune
    from ftcore.keras.head import attach_head
    from ftcore.keras.stages import head_stage, unfreeze_stage

    keras.utils.set_random_seed(seed)
    size = pretrained.image_size
    base = load_backbone(
        pretrained.keras_app,
        (size, size, 3),
        weights=pretrained.keras_weights,
        alpha=pretrained.keras_alpha,
    )
    model = attach_head(cut(base, KERAS_CUT), "conv", num_classes=task.num_classes)
    stages = [
        head_stage(epochs=12, learning_rate=0.01, optimizer="momentum"),
        unfreeze_stage(KERAS_UNFREEZE, epochs=4, learning_rate=1e-4, optimizer="momentum"),
    ]
    fine_tune(model, task.x_train, task.y_train, stages, verbose=0)
    return model


def fine_tuned_graph(pretrained, task, seed: int, out: Path) -> tuple[str, str]:
    """The slim fixture checkpoint fine-tuned on ``task``: (checkpoint, logits tensor name)."""
    from ftcore.app.demo import GRAPH_LR, GRAPH_TARGET, GRAPH_UNFREEZE
    from ftcore.graph.finetune import GraphFineTuner

    data = (task.x_train, task.y_train)
    with GraphFineTuner.from_meta(
        pretrained.slim_ckpt_dir, GRAPH_TARGET, task.num_classes, learning_rate=GRAPH_LR, seed=seed
    ) as ft:
        ft.fit(data, steps=30, seed=seed)
        ft.unfreeze(GRAPH_UNFREEZE, learning_rate=GRAPH_LR / 10)
        ft.fit(data, steps=30, seed=seed + 1)
        return str(ft.save(out / "checkpoint")), ft.logits.name


def accuracy(predict, x, y) -> float:
    return float(np.mean(predict(x).reshape(len(x), -1).argmax(1) == y))


def measure(name: str, export, reference, task, out: Path, rounds: int, min_agreement=None):
    """Export float and int8 with ``export(path, **kwargs)``; accuracy, agreement, speed."""
    from ftcore.export import litert
    from ftcore.predict import from_tflite

    kwargs = {} if min_agreement is None else {"min_agreement": min_agreement}
    export(out / "float.tflite")
    sidecar = export(out / "int8.tflite", int8=litert.Int8(task.x_train, task.x_test, **kwargs))
    fl, q = from_tflite(out / "float.tflite"), from_tflite(out / "int8.tflite")
    row = {
        "model": name,
        "restored": accuracy(reference, task.x_test, task.y_test),
        "float": accuracy(fl, task.x_test, task.y_test),
        "int8": accuracy(q, task.x_test, task.y_test),
        "agreement": sidecar.check["int8"]["top1_agreement"],
        "kb": (
            (out / "float.tflite").stat().st_size / 1024,
            (out / "int8.tflite").stat().st_size / 1024,
        ),
        "interpreter": q.runtime,
    }
    for batch in (1, 32):
        ips = paired_rates(
            {"float": fl, "int8": q}, task.x_test[:batch], max(5, rounds // max(1, batch // 4))
        )
        row[f"ips{batch}"] = (ips["float"], ips["int8"])
    return row


def mobilenet_224_row(out: Path, rounds: int) -> dict:
    """Speed only: MobileNetV2 1.0 at 224, random weights, float vs int8 (threshold 0)."""
    import keras
    from mobilenet_224 import calibration_images

    from ftcore.export import litert
    from ftcore.predict import from_tflite

    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(input_shape=(224, 224, 3), weights=None)
    calibration = calibration_images()
    litert.export_keras(model, out / "float.tflite")
    litert.export_keras(model, out / "int8.tflite", int8=litert.Int8(calibration, calibration, 0.0))
    fl, q = from_tflite(out / "float.tflite"), from_tflite(out / "int8.tflite")
    row = {
        "model": "Keras MobileNetV2 1.0 @224 (random weights, speed only)",
        "interpreter": q.runtime,
        "kb": (
            (out / "float.tflite").stat().st_size / 1024,
            (out / "int8.tflite").stat().st_size / 1024,
        ),
    }
    for batch in (1, 32):
        x = np.random.default_rng(0).uniform(-1, 1, (batch, 224, 224, 3)).astype(np.float32)
        ips = paired_rates({"float": fl, "int8": q}, x, max(5, rounds // max(1, batch // 4)))
        row[f"ips{batch}"] = (ips["float"], ips["int8"])
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--rounds", type=int, default=40, help="timing rounds at batch 1")
    parser.add_argument("--mobilenet-224", action="store_true", help="add the 224 speed row")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from ftcore.export import kit, litert
    from ftcore.graph.restore import restore_meta_graph
    from ftcore_fixtures.build import ensure_built
    from ftcore_fixtures.digits import target_task

    pretrained, task = ensure_built(verbose=False), target_task(size=32, per_class=10)
    root = Path(tempfile.mkdtemp(prefix="int8_table_"))
    print(f"# {cpu_model()}, {os.cpu_count()} cores; load average {os.getloadavg()}")
    print(
        "| model | seed | restored acc | float acc | int8 acc | int8 - float | top-1 agreement "
        "| float img/s b1 / b32 | int8 img/s b1 / b32 | int8/float b1 / b32 | KB float / int8 |"
    )
    print("|---" * 11 + "|")
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        out = root / f"seed{seed}"
        (out / "keras").mkdir(parents=True)
        (out / "graph").mkdir()
        t0 = time.perf_counter()
        model = fine_tuned_keras(pretrained, task, seed)
        keras_ref = kit.keras_reference(model)
        rows.append(
            (
                seed,
                measure(
                    "Keras MobileNet 0.25",
                    lambda p, m=model, **k: litert.export_keras(m, p, **k),
                    lambda x, r=keras_ref: r(x)[0],
                    task,
                    out / "keras",
                    args.rounds,
                ),
            )
        )
        ckpt, logits = fine_tuned_graph(pretrained, task, seed, out / "graph")
        with restore_meta_graph(ckpt) as restored:
            ref = lambda x, t=logits: restored.session.run(t, {"input:0": x})  # noqa: E731
            rows.append(
                (
                    seed,
                    measure(
                        "slim MobileNetV2 0.35",
                        lambda p, c=ckpt, t=logits, **k: litert.export_checkpoint(
                            c, p, [t], "input", **k
                        ),
                        ref,
                        task,
                        out / "graph",
                        args.rounds,
                    ),
                )
            )
        for seed_, r in rows[-2:]:
            print(_line(seed_, r), flush=True)
        print(f"# seed {seed}: {time.perf_counter() - t0:.0f}s", flush=True)
    agreement = np.array([r["agreement"] for _, r in rows])
    delta = np.array([r["int8"] - r["float"] for _, r in rows])
    print(
        f"# top-1 agreement {agreement.mean():.3f} +/- {agreement.std(ddof=1) if len(rows) > 1 else 0:.3f} "
        f"(min {agreement.min():.3f}); int8 - float accuracy {delta.mean():+.4f} +/- "
        f"{delta.std(ddof=1) if len(rows) > 1 else 0:.4f} over {len(rows)} model/seed pairs; "
        f"interpreter {rows[0][1]['interpreter']}"
    )
    if args.mobilenet_224:
        (root / "224").mkdir()
        r = mobilenet_224_row(root / "224", args.rounds)
        print(_line("-", r))
    print(f"# load average {os.getloadavg()}")
    return 0


def _line(seed, r: dict) -> str:
    f1, q1 = r["ips1"]
    f32, q32 = r["ips32"]
    kb_f, kb_q = r["kb"]
    if "agreement" in r:
        accuracy = (
            f"{r['restored']:.3f} | {r['float']:.3f} | {r['int8']:.3f} | "
            f"{r['int8'] - r['float']:+.3f} | {r['agreement']:.3f}"
        )
    else:  # the speed-only row
        accuracy = " | ".join(["-"] * 5)
    return (
        f"| {r['model']} | {seed} | {accuracy} | {f1:.0f} / {f32:.0f} | "
        f"{q1:.0f} / {q32:.0f} | {q1 / f1:.2f}x / {q32 / f32:.2f}x | {kb_f:.0f} / {kb_q:.0f} |"
    )


if __name__ == "__main__":
    sys.exit(main())
