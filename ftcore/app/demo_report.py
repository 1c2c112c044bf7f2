"""What ``ftcore demo`` reports: section headings, ``summary.json``'s content and the summary
table printed at the end.

    >>> section(print, "1. Keras path")  # doctest: +ELLIPSIS
    <BLANKLINE>
    == 1. Keras path =====...
"""

from __future__ import annotations

from collections.abc import Callable

from ftcore.app.demo_keras import KERAS_CUT


def section(log: Callable[[str], None], title: str) -> None:
    """A blank line and ``== title ====``, 74 characters wide."""
    log("")
    log(f"== {title} " + "=" * max(0, 70 - len(title)))


def build_summary(config, budget, weights, results: dict, out, seconds: float) -> dict:
    """The run's ``summary.json``: ``results`` holds the ``keras``, ``graph`` and ``export``
    steps' dicts (the Keras model already removed)."""
    return {
        "config": {
            "quick": config.quick,
            "seed": config.seed,
            "offline": config.offline,
            "budget": budget.__dict__,
        },
        "weights": {
            "origin": weights.origin,
            "description": weights.description,
            "task": weights.task,
            "keras": f"{weights.keras_alpha} {weights.keras_size}px",
            "graph": f"{weights.slim_depth_multiplier} {weights.graph_size}px",
            "provenance": weights.provenance,
        },
        "keras": results["keras"],
        "graph": results["graph"],
        "export": results["export"],
        "train": results.get("train"),
        "output": str(out),
        "seconds": seconds,
    }


def summary_text(summary: dict) -> str:
    """The table of accuracies and throughput, the restore plan and where every output is."""
    k, g, w = summary["keras"], summary["graph"], summary["weights"]
    plan = g["restore_plan"]
    return "\n".join(
        [
            f"weights: {w['description']}",
            f"task: {w['task']}, {k['labels']} labelled training images, {k['held_out']} held out "
            f"(chance {1 / k['classes']:.2f})",
            _table(summary),
            "",
            f"restore plan: {plan['to_restore']} restored, {plan['graph_only']} graph-only, "
            f"{plan['checkpoint_only']} checkpoint-only, {plan['mismatched']} mismatched",
            f"throughput: batch 32 at {w['keras']} / {w['graph']}, this run, this machine "
            "(see benchmarks/ for more)",
            f"TensorBoard logs:  {k['logs']}  {g['logs']}",
            f"checkpoints:       {k['checkpoints']}  {g['checkpoint']}",
            f"fine-tuned model:  {k['model_path']}",
            f"frozen graphs:     {summary['export']['keras_pb']}  {summary['export']['graph_pb']}",
            *_train_lines(summary.get("train")),
        ]
    )


def _train_lines(train: dict | None) -> list[str]:
    """The ``ftcore train`` part's lines (none when the summary has no such part)."""
    if not train:
        return []
    return [
        f"ftcore train:      validation accuracy {train['validation_accuracy']:.3f}, "
        f"run folder {train['run']}",
        f"  {train['command']}",
    ]


def _table(summary: dict) -> str:
    """One row per path: fine-tuned and scratch accuracies, frozen and restored img/s."""
    from ftcore.text_table import format_table

    inf, w = summary["export"]["inference"], summary["weights"]
    rows = [
        [
            name,
            f"{r['finetuned_accuracy']:.3f}",
            f"{r['scratch_accuracy']['as_built']:.3f}",
            f"{r['scratch_accuracy']['tuned_bn']:.3f}",
            f"{inf[key]['frozen_img_s']:.0f}",
            f"{inf[key]['restored_img_s']:.0f}",
        ]
        for key, name, r in (
            ("keras", f"Keras MobileNet {w['keras']} @{KERAS_CUT}", summary["keras"]),
            ("graph", f"slim MobileNetV2 {w['graph']} @expanded_conv_14", summary["graph"]),
        )
    ]
    headers = ["model", "fine-tuned acc", "scratch acc", "scratch acc (tuned BN)"]
    return format_table([*headers, "frozen img/s", "restored img/s"], rows)
