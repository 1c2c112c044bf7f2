"""The shared agreement check refuses a candidate just outside its tolerance, naming it."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers.agreement import TOLERANCES, assert_agree


@pytest.mark.parametrize("tolerance", sorted(TOLERANCES))
def test_inside_passes_and_just_outside_is_refused_naming_the_candidate(tolerance):
    rtol, atol = TOLERANCES[tolerance]
    batch = np.linspace(0.1, 1.0, 12, dtype=np.float64).reshape(3, 4)
    bound = atol + rtol * np.abs(batch)
    inside, outside = (lambda x: x + 0.5 * bound), (lambda x: x + 1.5 * bound)
    assert_agree(lambda x: x, {"inside": inside}, [batch], tolerance)
    with pytest.raises(AssertionError, match=f"outside disagrees .* batch 0 \\({tolerance}"):
        assert_agree(lambda x: x, {"inside": inside, "outside": outside}, [batch, batch], tolerance)


def test_an_unknown_tolerance_is_refused():
    with pytest.raises(KeyError, match="loose"):
        assert_agree(lambda x: x, {}, [np.zeros(1)], "loose")
