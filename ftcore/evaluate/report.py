"""Write an evaluation to a folder: ``report.json`` (machines), ``report.md`` with its
pictures (people) and ``misclassified[-<model>].csv`` (path, true, predicted, confidence).

All files land together (:func:`ftcore.atomic.atomic_files`, ``report.json`` last): a
failure leaves none of them. Two or more models are checked to share class names and
examples, and each pair's agreement is reported.

>>> import tempfile, json
>>> ev = evaluate_scores([0, 1, 1], [[0.8, 0.2], [0.9, 0.1], [0.2, 0.8]], ["ok", "defect"],
...                      paths=["a.png", "b.png", "c.png"])
>>> out = write_report(tempfile.mkdtemp(), {"float": ev})
>>> sorted(p.name for p in out.values())
['confusion-float.png', 'misclassified.csv', 'report.json', 'report.md']
>>> print(out["misclassified.csv"].read_text().strip())
path,true,predicted,confidence
b.png,defect,ok,0.9
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from ftcore import atomic
from ftcore.errors import MismatchError
from ftcore.evaluate.agreement import agreement, agreement_table
from ftcore.evaluate.class_names import check_class_names
from ftcore.evaluate.evaluation import Evaluation, Misclassified, evaluate_scores  # noqa: F401 (doctest)
from ftcore.evaluate.plots import plot_confusion_matrix, plot_learning_curves

__all__ = ["misclassified_csv", "write_report"]


def misclassified_csv(rows: Sequence[Misclassified]) -> str:
    """The CSV text: a header, then one row per misclassified example."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["path", "true", "predicted", "confidence"])
    w.writerows([r.path, r.true, r.predicted, f"{r.confidence:.6g}"] for r in rows)
    return buf.getvalue()


def _slug(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    if not slug:
        raise MismatchError(f"model name {name!r} gives no usable file name")
    return slug


def _pairs(evaluations: Mapping[str, Evaluation]) -> list[dict]:
    """Check the models share class names and examples; each pair's agreement."""
    first_name, first = next(iter(evaluations.items()))
    for name, ev in evaluations.items():
        check_class_names(ev.class_names, first.class_names, f"model {name!r}", repr(first_name))
        if len(ev.truth) != len(first.truth) or (ev.truth != first.truth).any():
            raise MismatchError(
                f"model {name!r} was judged on other examples than {first_name!r} "
                f"({len(ev.truth)} vs {len(first.truth)}, or other true classes); "
                "compare models on the same set"
            )
    return [
        {
            "a": na,
            "b": nb,
            "agreement": agreement(a.predictions, b.predictions),
            **agreement_table(a.truth, a.predictions, b.predictions),
        }
        for (na, a), (nb, b) in itertools.combinations(evaluations.items(), 2)
    ]


def _cell(text: str) -> str:
    """``text`` safe in a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _summary(evaluations: Mapping[str, Evaluation], pairs: list[dict]) -> list[str]:
    ks = sorted({k for ev in evaluations.values() for k in ev.top_k})
    head = ["model", "accuracy", *[f"top-{k}" for k in ks], "macro F1", "weighted F1", "wrong"]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for n, ev in evaluations.items():
        cells = [
            _cell(n),
            _pct(ev.accuracy),
            *[_pct(ev.top_k[k]) if k in ev.top_k else "-" for k in ks],
        ]
        cells += [f"{ev.averages[a]['f1']:.3f}" for a in ("macro", "weighted")]
        lines.append("| " + " | ".join(cells + [str(len(ev.misclassified))]) + " |")
    for p in pairs:
        lines += [
            "",
            f"**{p['a']} vs {p['b']}**: agree on {_pct(p['agreement'])} of the examples; "
            f"both right {p['both_right']}, only {p['a']} {p['only_a_right']}, "
            f"only {p['b']} {p['only_b_right']}, both wrong {p['both_wrong']}.",
        ]
    return lines


def _model_section(name: str, ev: Evaluation, files: dict[str, str]) -> list[str]:
    pc = ev.per_class
    lines = ["", f"## {name}", "", "| class | precision | recall | F1 | support |"]
    lines.append("|---|---|---|---|---|")
    for i, c in enumerate(ev.class_names):
        lines.append(
            f"| {_cell(c)} | {pc['precision'][i]:.3f} | {pc['recall'][i]:.3f} | "
            f"{pc['f1'][i]:.3f} | {pc['support'][i]} |"
        )
    confused = ", ".join(f"{t} -> {p} ({k})" for t, p, k in ev.most_confused[:5])
    return lines + [
        "",
        f"Most confused (true -> predicted): {confused or 'none'}.",
        "",
        f"![confusion matrix of {name}]({files['png']})",
        "",
        f"Misclassified files: [{files['csv']}]({files['csv']}).",
    ]


def _markdown(title: str, evaluations: Mapping[str, Evaluation], pairs, files, skipped) -> str:
    n = len(next(iter(evaluations.values())).truth)
    lines = [f"# {title}", "", f"{n} examples.", "", *_summary(evaluations, pairs)]
    for name, ev in evaluations.items():
        lines += _model_section(name, ev, files[name])
    if "learning_curves" in files:
        lines += ["", "## Learning curves", "", f"![learning curves]({files['learning_curves']})"]
    if skipped:
        lines += ["", f"## Skipped files ({len(skipped)}, not judged)", ""]
        lines += [f"- `{_cell(path)}`: {_cell(reason)}" for path, reason in skipped]
    return "\n".join(lines) + "\n"


def write_report(
    out_dir: str | os.PathLike,
    evaluations: Mapping[str, Evaluation],
    stages: Sequence | None = None,
    title: str = "Evaluation",
    skipped: Sequence[tuple[str, str]] = (),
) -> dict[str, Path]:
    """Write the report of one or more models (``{name: Evaluation}``; a history's
    ``stages`` add learning curves; ``skipped`` lists (path, reason) of files left out)
    into ``out_dir``; return ``{file name: path}``."""
    skipped = [(str(p), str(r)) for p, r in skipped]
    if not evaluations:
        raise MismatchError("write_report needs at least one evaluation")
    pairs = _pairs(evaluations)
    slugs = {n: _slug(n) for n in evaluations}
    if len(set(slugs.values())) != len(slugs):
        raise MismatchError(f"model names {list(evaluations)} give clashing file names {slugs}")
    one = len(evaluations) == 1
    files = {
        n: {
            "png": f"confusion-{s}.png",
            "csv": "misclassified.csv" if one else f"misclassified-{s}.csv",
        }
        for n, s in slugs.items()
    }
    out_dir = Path(out_dir)
    with atomic.atomic_files(out_dir, last=lambda p: p.name == "report.json") as tmp:
        for n, ev in evaluations.items():
            plot_confusion_matrix(ev.confusion, ev.class_names, tmp / files[n]["png"], f"{n}")
            (tmp / files[n]["csv"]).write_text(misclassified_csv(ev.misclassified))
        if stages is not None:
            plot_learning_curves(stages, tmp / "learning_curves.png")
            files["learning_curves"] = "learning_curves.png"
        (tmp / "report.md").write_text(_markdown(title, evaluations, pairs, files, skipped))
        report = {
            "title": title,
            "models": {n: {**ev.to_dict(), "files": files[n]} for n, ev in evaluations.items()},
            "agreement": pairs,
            "skipped": [{"path": p, "reason": r} for p, r in skipped],
        }
        if "learning_curves" in files:
            report["learning_curves"] = files["learning_curves"]
        (tmp / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        written = sorted(p.name for p in tmp.iterdir())
    return {name: out_dir / name for name in written}
