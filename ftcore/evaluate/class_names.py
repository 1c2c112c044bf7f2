"""The data's class names must be the model's labels, in the same order.

>>> check_class_names(["cat", "dog"], ["cat", "dog"])
['cat', 'dog']
>>> check_class_names(["cat", "dgo"], ["cat", "dog"])
Traceback (most recent call last):
...
ftcore.evaluate.class_names.ClassNamesMismatchError: the class names of the data ['cat', 'dgo'] are not the labels of the model ['cat', 'dog']: not in the model: 'dgo' (closest: 'dog'); not in the data: 'dog' (closest: 'dgo')
"""

from __future__ import annotations

from collections.abc import Sequence

from ftcore.errors import MismatchError, close_matches


class ClassNamesMismatchError(MismatchError):
    """The data's class names differ from the model's labels (names or order)."""


def _missing(names: Sequence[str], others: Sequence[str], where: str) -> str:
    parts = []
    for n in names:
        if n not in others:
            near = close_matches(n, [o for o in others if o not in names])
            parts.append(repr(n) + (f" (closest: {near[0]!r})" if near else ""))
    return f"not in {where}: " + ", ".join(parts) if parts else ""


def check_class_names(
    data_names: Sequence[str],
    model_labels: Sequence[str],
    data: str = "the data",
    model: str = "the model",
) -> list[str]:
    """Return the names if the data's class names are the model's labels in the same order,
    else raise :class:`ClassNamesMismatchError` naming both lists (and what differs);
    ``data`` and ``model`` say whose lists they are."""
    data_names, model_labels = list(data_names), list(model_labels)
    if data_names == model_labels:
        return data_names
    detail = "; ".join(
        p
        for p in (
            _missing(data_names, model_labels, model),
            _missing(model_labels, data_names, data),
        )
        if p
    )
    if not detail:
        detail = "same names in another order (class ids would be swapped)"
    if len(set(data_names)) != len(data_names) or len(set(model_labels)) != len(model_labels):
        detail += "; a list repeats a name"
    raise ClassNamesMismatchError(
        f"the class names of {data} {data_names} are not the labels of {model} "
        f"{model_labels}: {detail}"
    )
