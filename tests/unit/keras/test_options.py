"""fine_tune's options: FitOptions, Checkpointing, Logging, and the older keywords that set them."""

from __future__ import annotations

import numpy as np
import pytest

from ftcore.errors import UnknownNameError
from ftcore.keras import Checkpointing, FitOptions, Logging, fine_tune, head_stage, unfreeze_stage
from ftcore.keras.options import KEYWORDS, from_keywords
from tests.helpers.keras_nets import build_net, data_for

SPEC = {"kind": "dense", "blocks": [(3, False, False), (3, True, False)], "head_bn": False}


def test_the_older_keywords_train_exactly_as_the_option_values(tmp_path):
    """Same seed and data: keywords and option values give bitwise equal weights and files."""
    stages = [head_stage(1, 0.05), unfreeze_stage(0, 1, 0.05)]
    x, y = data_for(build_net(SPEC), 16)
    a, b = build_net(SPEC), build_net(SPEC)
    b.set_weights(a.get_weights())
    kw = fine_tune(
        a,
        x,
        y,
        stages,
        batch_size=8,
        shuffle=False,
        checkpoint_dir=tmp_path / "a",
        log_dir=tmp_path / "la",
        validation_data=(x, y),
    )
    opts = fine_tune(
        b,
        x,
        y,
        stages,
        FitOptions(batch_size=8, shuffle=False, validation_data=(x, y)),
        checkpointing=Checkpointing(tmp_path / "b"),
        logging=Logging(tmp_path / "lb"),
    )
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert [s.history for s in kw.stages] == [s.history for s in opts.stages]
    assert {p.name for p in (tmp_path / "b").iterdir()} == {"best.keras", "latest.npz"}
    assert {p.name for p in (tmp_path / "lb").iterdir()} == {"0_head", "1_unfreeze", "weights"}


def test_every_older_keyword_names_a_field_of_its_value():
    groups = {"fit": FitOptions, "checkpointing": Checkpointing, "logging": Logging}
    for name, (group, field) in KEYWORDS.items():
        assert field in groups[group].__dataclass_fields__, name


def test_a_keyword_and_its_value_together_are_refused():
    with pytest.raises(TypeError, match="both fit= and the keyword batch_size="):
        from_keywords(FitOptions(), None, None, {"batch_size": 8})
    with pytest.raises(TypeError, match="both logging= and the keyword log_dir="):
        from_keywords(None, None, Logging(), {"log_dir": "x"})


def test_an_unknown_keyword_lists_close_matches():
    model = build_net(SPEC)
    x, y = data_for(model, 8)
    with pytest.raises(
        UnknownNameError, match="unknown fine_tune keyword 'batchsize'.*'batch_size'"
    ):
        fine_tune(model, x, y, [head_stage(1)], batchsize=8)


def test_resume_without_a_directory_is_refused():
    with pytest.raises(TypeError, match="resume=True needs checkpoint_dir"):
        from_keywords(None, None, None, {"resume": True})
    fit, ck, log = from_keywords(None, None, None, {"checkpoint_dir": None, "resume": False})
    assert ck is None and fit == FitOptions() and log == Logging()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"cache_features": "always"}, UnknownNameError, "cache_features value 'always'"),
        ({"cache_features": 1.5}, UnknownNameError, "cache_features value '1.5'"),
        ({"batch_size": 0}, ValueError, "batch_size must be at least 1, got 0"),
        ({"batch_size": 8.0}, TypeError, "batch_size must be an int"),
        ({"batch_size": True}, TypeError, "batch_size must be an int"),
    ],
)
def test_bad_fit_options_are_refused_when_made(kwargs, error, message):
    with pytest.raises(error, match=message):
        FitOptions(**kwargs)


def test_values_are_frozen_and_normalised():
    assert FitOptions(batch_size=np.int64(8)).batch_size == 8
    fit = FitOptions(metrics=["accuracy"], callbacks=[])
    assert fit.metrics == ("accuracy",) and fit.callbacks == ()
    assert Checkpointing("runs/c").dir.name == "c" and Logging("runs/l").tensorboard_dir.name == "l"
    with pytest.raises(AttributeError):
        fit.batch_size = 4  # type: ignore[misc]
