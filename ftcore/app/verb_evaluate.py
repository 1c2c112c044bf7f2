"""``ftcore evaluate``: judge a model (or two side by side) on labelled images; write the report
folder (report.json, report.md, confusion PNGs, misclassified CSVs) and print a summary.

$ ftcore evaluate model.pb photos/ --output eval/
$ ftcore evaluate model.pb photos/ --model2 model.tflite     # float vs converted, agreement
$ ftcore evaluate runs/parts --split test                     # a run folder on its own split
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ftcore.app.verb import add_verb, read_labels
from ftcore.errors import FtcoreError, InvalidFileError

HELP = "judge a model on labelled images: per-class metrics, confusion matrix, misclassified files"
SPLITS = ("validation", "test")


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = add_verb(subparsers, "evaluate", HELP, run)
    p.add_argument("model", help=".keras, .pb or .tflite model, or a run folder of ftcore train")
    p.add_argument(
        "data",
        nargs="?",
        help="folder of class subfolders (default with a run folder: the run's own split)",
    )
    p.add_argument("--model2", metavar="MODEL", help="a second model, judged side by side")
    p.add_argument(
        "--output",
        metavar="DIR",
        help="report folder (default: RUN/evaluation for a run folder, else ./evaluation)",
    )
    p.add_argument("--top-k", type=int, default=5, metavar="K", help="top-k accuracy (default 5)")
    p.add_argument(
        "--split",
        choices=SPLITS,
        help="a run folder's split to judge (default: test if it has files, else validation); "
        "with DATA, the split's files under DATA",
    )
    p.add_argument(
        "--labels", metavar="FILE", help="class names, one per line (replaces a sidecar's)"
    )
    p.add_argument(
        "--skip-bad", action="store_true", help="leave out bad images and list them in the report"
    )
    p.add_argument("--batch-size", type=int, default=32, metavar="N", help="images per batch")
    p.add_argument("--trust", action="store_true", help="load a model with Lambda layers/file ops")
    return p


def _check_args(args: argparse.Namespace, run) -> None:
    if args.top_k < 1:
        raise FtcoreError(f"--top-k must be at least 1, got {args.top_k}")
    if args.batch_size < 1:
        raise FtcoreError(f"--batch-size must be at least 1, got {args.batch_size}")
    if run is None and args.data is None:
        raise FtcoreError(
            f"give DATA, a folder of class subfolders ({args.model} is not a run folder)"
        )
    if run is None and args.split:
        raise FtcoreError(f"--split needs a run folder of ftcore train; {args.model} is not one")


def run(args: argparse.Namespace) -> int:
    from ftcore.app import evaluate_models as em
    from ftcore.app.progress import Progress
    from ftcore.evaluate import write_report

    path, run_files = em.model_path(args.model)
    _check_args(args, run_files)
    paths = [path] + ([em.model_path(args.model2)[0]] if args.model2 else [])
    predictors = em.load_models(paths, read_labels(args.labels), args.trust, run_files)
    try:
        labels = next(iter(predictors.values())).labels
        data = _data(args, run_files, labels, em)
        bar = Progress(len(data.files) * len(em.passes(predictors)), "evaluate: images")
        evaluations = em.evaluate_all(
            predictors, data, args.top_k, batch_size=args.batch_size, progress=bar.update
        )
    finally:
        for p in predictors.values():
            p.close()
    out = Path(args.output or (run_files.root / "evaluation" if run_files else "evaluation"))
    skipped = [(b.path, b.reason) for b in data.skipped]
    title = f"Evaluation on {data.source}"
    written = write_report(out, evaluations, title=title, skipped=skipped)
    print(summary(evaluations, data, args.top_k))
    print(f"report: {out}/ ({', '.join(sorted(p.name for p in written.values()))})")
    return 0


def _data(args, run_files, labels, em):
    from ftcore.data import BadImagesError

    try:
        if run_files is not None and (args.data is None or args.split):
            if args.data is not None:
                run_files = _with_data_dir(run_files, Path(args.data))
            return em.run_split(run_files, args.split, labels, args.skip_bad)
        return em.labelled_folder(args.data, labels, args.skip_bad)
    except BadImagesError as e:  # the data wing's advice, in the command's words
        raise InvalidFileError(str(e).replace("skip_bad=True", "--skip-bad")) from None


def _with_data_dir(run_files, data_dir: Path):
    import dataclasses

    return dataclasses.replace(run_files, data_dir=data_dir)


def summary(evaluations: dict, data, k: int) -> str:
    """The table printed after a run: one row per model, then its confused pairs and agreement."""
    from ftcore.evaluate import agreement

    width = max(len("model"), *(len(n) for n in evaluations))
    head = f"{'model':<{width}}  {'accuracy':>8}  {f'top-{k}':>8}  {'macro F1':>8}  {'weighted F1':>11}"
    lines = [f"{len(data.files)} images, {len(data.class_names)} classes ({data.source})", head]
    for name, ev in evaluations.items():
        top = f"{100 * ev.top_k[k]:.1f}%" if k in ev.top_k else "-"
        lines.append(
            f"{name:<{width}}  {100 * ev.accuracy:>7.1f}%  {top:>8}  "
            f"{ev.averages['macro']['f1']:>8.3f}  {ev.averages['weighted']['f1']:>11.3f}"
        )
    for name, ev in evaluations.items():
        pairs = ", ".join(f"{t} -> {p} ({n})" for t, p, n in ev.most_confused[:3])
        lines.append(f"most confused, {name} (true -> predicted): {pairs or 'none'}")
    names = list(evaluations)
    if len(names) == 2:
        a, b = (evaluations[n].predictions for n in names)
        lines.append(
            f"agreement {names[0]} vs {names[1]}: {100 * agreement(a, b):.1f}% of the images"
        )
    if data.skipped:
        lines.append(f"{len(data.skipped)} bad image file(s) skipped (listed in report.md)")
    return "\n".join(lines)
