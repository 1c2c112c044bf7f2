"""Judge a classifier: metrics (pure numpy), reports and pictures (matplotlib, ``plots`` extra).

>>> from ftcore.evaluate import evaluate_scores
>>> ev = evaluate_scores([0] * 9 + [1], [[0.9, 0.1]] * 10, ["ok", "defect"])
>>> ev.accuracy, ev.per_class["recall"]
(0.9, [1.0, 0.0])
"""

from ftcore.evaluate.accuracy import accuracy, top_k, top_k_accuracy
from ftcore.evaluate.agreement import agreement, agreement_table
from ftcore.evaluate.class_names import ClassNamesMismatchError, check_class_names
from ftcore.evaluate.confusion import confusion_matrix, most_confused
from ftcore.evaluate.evaluation import Evaluation, Misclassified, evaluate_scores
from ftcore.evaluate.history import InvalidHistoryError, StageHistory, best_epoch, history
from ftcore.evaluate.inputs import InvalidScoresError
from ftcore.evaluate.per_class import averages, per_class
from ftcore.evaluate.plots import (
    PlotsUnavailableError,
    plot_benchmark,
    plot_confusion_matrix,
    plot_learning_curves,
)
from ftcore.evaluate.report import misclassified_csv, write_report

__all__ = [
    "ClassNamesMismatchError",
    "Evaluation",
    "InvalidHistoryError",
    "InvalidScoresError",
    "Misclassified",
    "PlotsUnavailableError",
    "StageHistory",
    "accuracy",
    "agreement",
    "agreement_table",
    "averages",
    "best_epoch",
    "check_class_names",
    "confusion_matrix",
    "evaluate_scores",
    "history",
    "misclassified_csv",
    "most_confused",
    "per_class",
    "plot_benchmark",
    "plot_confusion_matrix",
    "plot_learning_curves",
    "top_k",
    "top_k_accuracy",
    "write_report",
]
