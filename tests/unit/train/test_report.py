"""The best epoch of a run's report, against a plain argmin over all epochs of all stages."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from ftcore.train.report import best_of

losses = st.lists(st.floats(0.01, 5.0), min_size=1, max_size=6)


@given(losses, losses)
def test_best_epoch_is_the_first_lowest_validation_loss(head, unfreeze):
    stages = [("head", {"val_loss": head}), ("unfreeze", {"val_loss": unfreeze})]
    best = best_of(stages)
    flat = head + unfreeze
    overall = int(np.argmin(flat))
    assert best["epoch_overall"] == overall + 1 and best["value"] == flat[overall]
    in_head = overall < len(head)
    assert best["stage"] == ("head" if in_head else "unfreeze")
    assert best["epoch_in_stage"] == (overall if in_head else overall - len(head)) + 1


def test_without_validation_the_training_loss_decides():
    best = best_of([("head", {"loss": [0.5, 0.4, 0.45]})])
    assert (best["monitor"], best["epoch_overall"]) == ("loss", 2)
    assert best_of([]) is None
