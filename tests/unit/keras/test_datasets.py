"""fine_tune on a tf.data.Dataset: checked like arrays, same weights as arrays, the feature
cache streamed and spilled to disk past its RAM budget with the same result."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from ftcore.errors import EmptyDataError, FtcoreError, MismatchError
from ftcore.keras import FitOptions, fine_tune, head_stage
from tests.helpers.keras_nets import data_for, tiny_net

#: max abs weight difference allowed between cached and uncached training, RAM and disk
#: (measured: see the report; float32 reordering only).
ATOL = 1e-5


def dataset(x, y, batch=8):
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)


def entries(root):
    """The cache folder's complete entries (not its lock files or temporaries)."""
    return [p for p in (root / "features").glob("*") if not p.name.startswith(".")]


def trained(data, y=None, seed=1, **fit):
    model = tiny_net()
    keras.utils.set_random_seed(seed)
    fit = {"batch_size": 8, "shuffle": False, **fit}
    result = fine_tune(model, data, y, [head_stage(3, 0.1)], FitOptions(**fit))
    return model, result


def assert_same_weights(a, b, atol=ATOL):
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(wa, wb, rtol=0, atol=atol)


@pytest.mark.parametrize("cache", [True, False])
def test_a_dataset_trains_like_the_same_arrays(cache, tmp_path, monkeypatch):
    monkeypatch.setenv("FTCORE_CACHE_DIR", str(tmp_path))
    x, y = data_for(tiny_net(), 24)
    from_arrays, r1 = trained(x, y, cache_features=cache, validation_data=(x[:8], y[:8]))
    from_ds, r2 = trained(
        dataset(x, y), cache_features=cache, validation_data=dataset(x[:8], y[:8])
    )
    assert r1.stages[0].cached is r2.stages[0].cached is cache
    assert_same_weights(from_arrays, from_ds)
    assert r2.stages[0].history["val_loss"] == pytest.approx(r1.stages[0].history["val_loss"])
    assert not np.allclose(from_ds.get_weights()[-2], tiny_net().get_weights()[-2])


@pytest.mark.slow
@pytest.mark.parametrize("ram", [0, 256 * 2**20])
@pytest.mark.parametrize("seed", [1, 2])
def test_cached_equals_uncached_on_streamed_data_in_ram_and_on_disk(
    ram, seed, tmp_path, monkeypatch
):
    monkeypatch.setenv("FTCORE_CACHE_DIR", str(tmp_path))
    x, y = data_for(tiny_net(), 24, seed=seed)
    ds, val = dataset(x, y), dataset(x[:8], y[:8])
    cached, rc = trained(ds, seed=seed, cache_ram_bytes=ram, validation_data=val)
    through, rt = trained(ds, seed=seed, cache_features=False, validation_data=val)
    assert rc.stages[0].cached and not rt.stages[0].cached
    assert_same_weights(cached, through)
    # the private spill folder of an unkeyed dataset is gone after the stage
    assert not list((tmp_path / "features").glob("*"))


def test_disk_and_ram_caches_agree_with_shuffling(tmp_path, monkeypatch):
    monkeypatch.setenv("FTCORE_CACHE_DIR", str(tmp_path))
    x, y = data_for(tiny_net(), 24)
    runs = [trained(x, y, shuffle=True, cache_ram_bytes=ram)[0] for ram in (0, 2**30)]
    assert_same_weights(*runs)
    assert len(entries(tmp_path)) == 1, "the arrays spilled to a folder keyed by their bytes"


def test_a_keyed_disk_cache_is_written_once_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("FTCORE_CACHE_DIR", str(tmp_path))
    x, y = data_for(tiny_net(), 24)
    first, _ = trained(dataset(x, y), cache_ram_bytes=0, cache_key="split-abc")
    (entry,) = entries(tmp_path)
    assert sorted(p.name for p in entry.iterdir()) == ["features.bin", "labels.npy", "meta.json"]
    stamp = entry.stat().st_mtime_ns
    # the same key over other data: the folder is read back, not rebuilt (keyed by the caller)
    again, _ = trained(
        dataset(x[::-1].copy(), y[::-1].copy()), cache_ram_bytes=0, cache_key="split-abc"
    )
    assert entry.stat().st_mtime_ns == stamp
    assert_same_weights(first, again, atol=0)
    trained(dataset(x, y), cache_ram_bytes=0, cache_key="split-def")
    assert len(entries(tmp_path)) == 2


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (
            lambda x, y: dataset(x, y + 2),
            MismatchError,
            r"labels range 2\.\.4 but the head outputs 3",
        ),
        (
            lambda x, y: dataset(x[:, :4], y),
            MismatchError,
            r"inputs have shape \(4,\), the model expects \(5,\)",
        ),
        (lambda x, y: dataset(x[:0], y[:0]), EmptyDataError, "training dataset is empty"),
        (
            lambda x, y: tf.data.Dataset.from_tensor_slices(x).batch(4),
            MismatchError,
            "expected \\(input, label\\) pairs",
        ),
        (lambda x, y: dataset(x, np.eye(4)[y]), MismatchError, "one-hot with 4"),
    ],
)
def test_a_bad_dataset_is_refused_with_a_clear_error(make, error, message):
    model = tiny_net()
    x, y = data_for(model, 8)
    with pytest.raises(error, match=message) as info:
        fine_tune(model, make(x, y), stages=[head_stage(1)])
    assert isinstance(info.value, FtcoreError)


def test_a_bad_validation_dataset_and_labels_beside_a_dataset_are_refused():
    model = tiny_net()
    x, y = data_for(model, 8)
    with pytest.raises(MismatchError, match=r"validation labels range 3\.\.5"):
        fine_tune(model, x, y, [head_stage(1)], validation_data=dataset(x, y + 3))
    with pytest.raises(TypeError, match="pass y=None"):
        fine_tune(model, dataset(x, y), y, [head_stage(1)])
    with pytest.raises(TypeError, match="needs stages"):
        fine_tune(model, dataset(x, y))


def test_an_unbatched_dataset_is_batched_by_batch_size():
    model = tiny_net()
    x, y = data_for(model, 12)
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    result = fine_tune(model, ds, stages=[head_stage(1)], batch_size=4, cache_features=False)
    assert len(result.stages[0].history["loss"]) == 1
