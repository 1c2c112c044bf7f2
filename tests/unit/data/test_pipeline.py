"""ftcore.data.pipeline: the array training streams for a file is the array ``ftcore predict``
feeds for it (predict.images.load_images), for JPEG, EXIF-rotated, grayscale, RGBA, palette
and 16-bit files; labels stay with their files; shuffling is seeded; shards cover a split."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from ftcore.data import image_dataset, load_folder, make_split, split_dataset
from ftcore.errors import EmptyDataError
from ftcore.predict.images import load_images

from .images import make_folder


@pytest.fixture(scope="module")
def odd_files(tmp_path_factory, photos):
    """Files in every mode predict/images handles, as real files."""
    d = tmp_path_factory.mktemp("modes")
    upright = Image.open(photos["chelsea_cat"]).convert("RGB").crop((0, 0, 120, 80))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: the viewer turns it 90 degrees clockwise
    upright.rotate(90, expand=True).save(d / "exif6.jpg", exif=exif, quality=95)
    rgb = np.asarray(upright.resize((40, 30)))
    alpha = np.tile(np.linspace(0, 255, 40).astype(np.uint8), (30, 1))
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(d / "rgba.png")
    Image.fromarray((np.arange(48 * 32).reshape(32, 48) * 40).astype(np.uint16)).save(
        d / "16bit.png"
    )
    pal = Image.new("P", (20, 20), 0)
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    pal.putpixel((3, 3), 1)
    pal.save(d / "palette.png", transparency=0)
    Image.open(photos["chelsea_cat"]).convert("L").save(d / "gray.jpg")
    paths = [photos["chelsea_cat"], photos["cameraman_gray"]]
    paths += [d / n for n in ("exif6.jpg", "rgba.png", "16bit.png", "palette.png", "gray.jpg")]
    assert Image.open(d / "16bit.png").mode.startswith("I;16")
    return paths


@pytest.mark.parametrize(
    ("size", "options"),
    [(32, {}), ((24, 40), {"preprocessing": "unit", "fit": "center_crop", "resample": "bicubic"})],
)
def test_training_arrays_equal_what_predict_feeds(odd_files, size, options):
    ds = image_dataset(odd_files, list(range(len(odd_files))), size, batch_size=3, **options)
    images = np.concatenate([x.numpy() for x, _ in ds])
    labels = np.concatenate([y.numpy() for _, y in ds])
    want = load_images(odd_files, size, **options)
    assert images.dtype == np.float32 and images.shape == want.shape
    np.testing.assert_array_equal(images, want)
    assert labels.tolist() == list(range(len(odd_files)))


def test_exif_orientation_reaches_training(odd_files, photos):
    upright = Image.open(photos["chelsea_cat"]).convert("RGB").crop((0, 0, 120, 80))
    [(x, _)] = image_dataset([odd_files[2]], [0], (80, 120), preprocessing="raw", batch_size=1)
    # JPEG round trip: close to the upright crop, far from the stored (rotated) pixels
    assert np.abs(x.numpy()[0] - np.asarray(upright, np.float32)).mean() < 4.0


def _solid_folder(root, n_per_class=6):
    """Class k's images are solid (40 k) grey, so a label can be read back from its image."""
    for k, cls in enumerate(["a", "b", "c"]):
        for i in range(n_per_class):
            (root / cls).mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (12 + i, 10), (40 * k, 40 * k, 40 * k)).save(root / cls / f"{i}.png")
    return root


def test_labels_stay_with_their_images_when_shuffled(tmp_path):
    folder = load_folder(_solid_folder(tmp_path))
    paths = [tmp_path / f.path for f in folder.files]
    labels = [f.label for f in folder.files]

    def epochs(seed):
        ds = image_dataset(
            paths, labels, 8, preprocessing="raw", batch_size=4, shuffle=True, seed=seed
        )
        out = []
        for _ in range(2):
            xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds], strict=True)
            x, y = np.concatenate(xs), np.concatenate(ys)
            np.testing.assert_array_equal(x[:, 0, 0, 0], 40.0 * y)  # each label on its image
            out.append(y.tolist())
        return out

    first, again, other = epochs(0), epochs(0), epochs(1)
    assert first == again, "the same seed gives the same order, epoch by epoch"
    assert first[0] != first[1], "each epoch is reshuffled"
    assert first != other and sorted(first[0]) == sorted(labels)


def test_shards_of_a_split_cover_it_once(tmp_path):
    folder = load_folder(_solid_folder(tmp_path, 10))
    split = make_split(folder.files, folder.class_names, validation=0.2, seed=0)
    whole = [y for _, y in split_dataset(split, tmp_path, "train", 8).unbatch().as_numpy_iterator()]
    shards = [
        [y for _, y in split_dataset(split, tmp_path, "train", 8, num_workers=3, worker_index=i)
         .unbatch().as_numpy_iterator()]
        for i in range(3)
    ]  # fmt: skip
    assert sorted(sum(shards, [])) == sorted(whole) and len(whole) == 24
    assert [len(s) for s in shards] == [8, 8, 8]
    with pytest.raises(EmptyDataError, match=r"^the test split has no files \(its fraction is 0\)"):
        split_dataset(split, tmp_path, "test", 8)


def test_bad_arguments_fail_when_the_dataset_is_made(tmp_path):
    make_folder(tmp_path, {"a": 1, "b": 1})
    paths = [tmp_path / "a/0.png", tmp_path / "b/0.png"]
    with pytest.raises(ValueError, match=r"unknown preprocessing 'mobilnet'; choose from"):
        image_dataset(paths, [0, 1], 8, preprocessing="mobilnet")
    with pytest.raises(ValueError, match=r"fit must be 'squash' or 'center_crop'"):
        image_dataset(paths, [0, 1], 8, fit="crop")
    with pytest.raises(ValueError, match=r"^2 paths but 1 labels$"):
        image_dataset(paths, [0], 8)
    with pytest.raises(ValueError, match=r"batch_size must be positive, got 0"):
        image_dataset(paths, [0, 1], 8, batch_size=0)
    with pytest.raises(EmptyDataError, match=r"no image files given"):
        image_dataset([], [], 8)
    with pytest.raises(ValueError, match=r"prefetch must be at least 1 batch, got 0"):
        image_dataset(paths, [0, 1], 8, prefetch=0)
    with pytest.raises(ValueError, match=r"image size must be positive"):
        image_dataset(paths, [0, 1], 0)


def test_a_file_broken_after_the_check_names_itself(tmp_path):
    make_folder(tmp_path, {"a": 1, "b": 1})
    (tmp_path / "b/0.png").write_bytes(b"gone bad")
    ds = image_dataset([tmp_path / "a/0.png", tmp_path / "b/0.png"], [0, 1], 8, batch_size=1)
    it = iter(ds)
    assert next(it)[0].shape == (1, 8, 8, 3)  # streamed: the first file is read alone
    with pytest.raises(tf.errors.OpError, match=r"b/0.png is not an image in an accepted format"):
        next(it)


def test_it_reads_only_a_few_batches_ahead(tmp_path):
    """Memory is bounded by a few batches: with the first batch taken (and time to read
    ahead), the pipeline has not touched files past the taken batch, ``prefetch`` batches,
    two in decode (fused map and batch) and one image per core; the files after those are
    only written then, and all of them decode. (Seen on 2 cores: 5 batches of 4 read with
    prefetch 2, 4 batches of 8 with prefetch 1.)"""
    batch, prefetch = 4, 2
    # the margin past what was seen (one batch and one image per core more) keeps this true on
    # a loaded machine, where tf.data reads a little further; the dataset is 3x that size
    ahead = batch * (prefetch + 4) + 2 * (os.cpu_count() or 1)
    n = 3 * ahead
    paths = [tmp_path / f"{i:03d}.png" for i in range(n)]
    for p in paths[:ahead]:
        Image.new("RGB", (16, 16), (1, 2, 3)).save(p)
    ds = image_dataset(paths, [0] * n, 8, batch_size=batch, prefetch=prefetch)
    it = iter(ds)
    assert next(it)[0].shape[0] == batch
    time.sleep(1.0)  # let the pipeline read as far ahead as it will
    for p in paths[ahead:]:
        Image.new("RGB", (16, 16), (1, 2, 3)).save(p)
    assert sum(int(x.shape[0]) for x, _ in it) == n - batch  # an early read would have failed
