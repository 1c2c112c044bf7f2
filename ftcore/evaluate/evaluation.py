"""One model judged on one labelled set: every metric, and the misclassified examples.

>>> ev = evaluate_scores([0, 0, 1], [[0.9, 0.1], [0.4, 0.6], [0.3, 0.7]], ["ok", "defect"])
>>> round(ev.accuracy, 3), ev.most_confused
(0.667, [('ok', 'defect', 1)])
>>> ev.misclassified
[Misclassified(path='1', true='ok', predicted='defect', confidence=0.6)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ftcore.evaluate.accuracy import accuracy, top_k_accuracy
from ftcore.evaluate.confusion import confusion_matrix, most_confused
from ftcore.evaluate.inputs import InvalidScoresError, class_ids, same_length, scores_matrix
from ftcore.evaluate.per_class import averages, per_class


@dataclass(frozen=True)
class Misclassified:
    """An example whose predicted class is not its true one."""

    path: str
    true: str
    predicted: str
    confidence: float


@dataclass
class Evaluation:
    """Metrics of one model on one set (see :func:`evaluate_scores`)."""

    class_names: list[str]
    accuracy: float
    top_k: dict[int, float]
    per_class: dict[str, list]
    averages: dict[str, dict[str, float]]
    confusion: np.ndarray
    most_confused: list[tuple[str, str, int]]
    misclassified: list[Misclassified]
    predictions: np.ndarray = field(repr=False)
    truth: np.ndarray = field(repr=False)

    def to_dict(self) -> dict:
        """Plain JSON-ready types (report.json)."""
        return {
            "examples": int(self.confusion.sum()),
            "accuracy": self.accuracy,
            "top_k_accuracy": {str(k): v for k, v in self.top_k.items()},
            "per_class": {
                name: {m: self.per_class[m][i] for m in self.per_class}
                for i, name in enumerate(self.class_names)
            },
            "averages": self.averages,
            "confusion_matrix": {
                "classes": self.class_names,
                "rows_true_cols_predicted": self.confusion.tolist(),
            },
            "most_confused": [list(p) for p in self.most_confused],
            "misclassified": len(self.misclassified),
        }


def evaluate_scores(
    y_true,
    scores,
    class_names: Sequence[str],
    paths: Sequence[str] | None = None,
    ks: Sequence[int] = (5,),
) -> Evaluation:
    """Judge ``scores`` (``[N, C]``, e.g. probabilities) against true class ids ``y_true``.

    ``paths`` names each example in the misclassified list (its index if not given); a
    ``k`` of ``ks`` not below the number of classes is left out (it would be 1.0).
    """
    s = scores_matrix(scores)
    names = list(class_names)
    if s.shape[1] != len(names):
        raise InvalidScoresError(
            f"scores have {s.shape[1]} classes but there are {len(names)} class names {names}"
        )
    t = class_ids(y_true, len(names), "y_true")
    paths = [str(i) for i in range(len(t))] if paths is None else [str(p) for p in paths]
    same_length(y_true=t, scores=s, paths=np.asarray(paths))
    pred = np.argmax(s, axis=1)
    cm = confusion_matrix(t, pred, len(names))
    pc = per_class(cm)
    wrong = np.flatnonzero(pred != t)
    return Evaluation(
        class_names=names,
        accuracy=accuracy(t, pred),
        top_k={k: top_k_accuracy(t, s, k) for k in ks if k < len(names)},
        per_class={m: v.tolist() for m, v in pc.items()},
        averages=averages(pc),
        confusion=cm,
        most_confused=most_confused(cm, names),
        misclassified=[
            Misclassified(paths[i], names[t[i]], names[pred[i]], float(s[i, pred[i]]))
            for i in wrong
        ],
        predictions=pred,
        truth=t,
    )
