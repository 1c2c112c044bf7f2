"""The training steps: the feature cache's key, and training on streamed data (only the small
evaluation splits are loaded as arrays)."""

from __future__ import annotations

import dataclasses

import pytest

from ftcore.train import TrainConfig, steps, train
from ftcore.train.run_folder import RunFolder
from tests.unit.train.folders import image_folder
from tests.unit.train.test_workflow import _config


def test_cache_key_names_split_file_size_preprocessing_and_backbone(tmp_path):
    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    run.split.write_text('{"files": ["a.png"]}')
    config = TrainConfig("photos", image_size=32, backbone="MobileNet", cut="conv_pw_5_relu")
    key = steps.cache_key(run, config)
    assert key == steps.cache_key(run, config)  # the same run, the same key
    for change in ({"image_size": 64}, {"preprocessing": "inception"}, {"backbone": "x"}):
        assert steps.cache_key(run, dataclasses.replace(config, **change)) != key, change
    assert steps.cache_key(run, dataclasses.replace(config, cut="conv_pw_4_relu")) != key
    run.split.write_text('{"files": ["b.png"]}')
    assert steps.cache_key(run, config) != key  # another split file


@pytest.mark.slow
def test_training_streams_the_train_split(pretrained, tmp_path, monkeypatch):
    loaded = []
    arrays = steps.arrays

    def spy(split, root, which, config):
        loaded.append(which)
        return arrays(split, root, which, config)

    monkeypatch.setattr(steps, "arrays", spy)
    data = image_folder(tmp_path / "parts")
    report = train(_config(pretrained, data, tmp_path / "run"), log=lambda s: None)
    assert loaded == ["validation"]  # the training split is streamed, never an array
    assert report["stages"][0]["cached_features"] is True
