"""The three restore methods, reading values by name, listing helpers, checkpoint contents,
and the bad inputs each must reject with a specific error."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from ftcore.errors import (
    InvalidFileError,
    MismatchError,
    MissingFileError,
    UnknownNameError,
    UnsafeGraphError,
)
from ftcore.graph.checkpoint_files import (
    checkpoint_contents,
    read_checkpoint_value,
    resolve_checkpoint,
)
from ftcore.graph.names import list_nodes, list_tensors, list_variables
from ftcore.graph.nets.slim_mobilenet_v2 import mobilenet_v2
from ftcore.graph.restore import (
    load_pb,
    restore_built_graph,
    restore_meta_graph,
    restore_slim_mobilenet_v2,
)
from tests.helpers.graph_nets import PREDICTIONS, SIZE, TARGET, images

v1 = tf.compat.v1


@pytest.fixture(scope="module")
def photo_batch(photos) -> np.ndarray:
    """The shipped photos as a [4, 32, 32, 3] batch in MobileNet's [-1, 1] convention."""
    arrays = [
        np.asarray(Image.open(p).convert("RGB").resize((SIZE, SIZE)), np.float32)
        for p in photos.values()
    ]
    return np.stack(arrays) / 127.5 - 1.0


@pytest.fixture(scope="module")
def method1(slim_ckpt):
    with restore_meta_graph(slim_ckpt) as net:
        yield net


@pytest.mark.slow
def test_methods_1_2_3_give_identical_predictions_on_real_photos(
    method1, slim_ckpt, slim_pb, photo_batch
):
    p1 = method1.run(PREDICTIONS, {"input": photo_batch})
    with restore_slim_mobilenet_v2(slim_ckpt, num_classes=5, depth_multiplier=0.35) as net2:
        p2 = net2.run(PREDICTIONS, {"input": photo_batch})
    with load_pb(slim_pb) as net3:
        p3 = net3.run(PREDICTIONS, {"input": photo_batch})  # without the import/ prefix
        p3_prefixed = net3.run(f"import/{PREDICTIONS}:0", {"import/input:0": photo_batch})
    assert p1.shape == (4, 5) and np.allclose(p1.sum(1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_allclose(p1, p3, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(p3, p3_prefixed)


def test_reading_a_variable_by_name_gives_its_value_not_the_handle(method1, slim_ckpt):
    name = "MobilenetV2/expanded_conv_3/expand/BatchNorm/moving_variance"
    handle = method1.tensor(name + ":0")
    assert handle.dtype == tf.resource  # what get_tensor_by_name returns
    expected = read_checkpoint_value(slim_ckpt, name)
    for spelling in (name, name + ":0"):
        got = method1.value(spelling)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, expected)
    assert not np.allclose(expected, 1.0)  # a restored value, not the initializer's


def test_method_2_restores_a_renamed_scope_through_an_assignment_map(method1, slim_ckpt):
    def build():
        x = v1.placeholder(tf.float32, [None, SIZE, SIZE, 3], name="input")
        mobilenet_v2(x, 5, depth_multiplier=0.35, scope="student")

    x = images(2)
    with restore_built_graph(build, slim_ckpt, assignment_map={"MobilenetV2/": "student/"}) as net:
        assert net.plan.complete
        assert ("student/Conv/weights", "MobilenetV2/Conv/weights") in net.plan.to_restore
        renamed = net.run("student/Predictions/Reshape_1", {"input": x})
    np.testing.assert_array_equal(renamed, method1.run(PREDICTIONS, {"input": x}))


def test_method_2_restores_a_training_graph_including_bn_statistics(slim_ckpt):
    name = "MobilenetV2/Conv/BatchNorm/moving_mean"
    with restore_slim_mobilenet_v2(slim_ckpt, 5, 0.35, image_size=SIZE, is_training=True) as net:
        assert net.plan.complete
        np.testing.assert_array_equal(net.value(name), read_checkpoint_value(slim_ckpt, name))
        assert net.graph.get_collection(v1.GraphKeys.UPDATE_OPS)


def test_method_2_with_another_depth_multiplier_reports_shape_mismatches(slim_ckpt):
    with pytest.raises(MismatchError) as err:
        restore_slim_mobilenet_v2(slim_ckpt, num_classes=5, depth_multiplier=0.5)
    msg = str(err.value)
    assert "shape/dtype mismatches" in msg
    assert "187 shape/dtype mismatches" in msg  # Conv_1 keeps 1280 below 1.0 (its BN matches)
    expected = (
        "MobilenetV2/Conv_1/weights: graph [1, 1, 160, 1280] float32, checkpoint [1, 1, 112, 1280]"
    )
    assert expected in msg


def test_listing_helpers_and_checkpoint_contents(method1, slim_ckpt):
    g = method1.graph
    assert "input" in list_nodes(g) and TARGET in list_nodes(g)
    tensors = list_tensors(g)
    assert "input:0" in tensors and f"{TARGET}:0" in tensors
    assert all(t.rsplit(":", 1)[1].isdigit() for t in tensors)
    trainable = {i.name for i in list_variables(g, trainable_only=True)}
    everything = {i.name: i for i in list_variables(g)}
    stats = {n for n in everything if n.endswith(("moving_mean", "moving_variance"))}
    assert stats and not stats & trainable
    assert set(everything) - trainable == stats | {"global_step"}
    contents = {i.name: i for i in checkpoint_contents(slim_ckpt)}
    assert contents == everything  # names, shapes and dtypes, read without a graph
    assert contents["global_step"].dtype == "int64"


def test_checkpoint_paths_resolve_from_dir_prefix_or_any_checkpoint_file(slim_ckpt):
    prefix = resolve_checkpoint(slim_ckpt)
    assert prefix.endswith("model.ckpt-100")
    for path in (prefix, prefix + ".index", prefix + ".meta", prefix + ".data-00000-of-00001"):
        assert resolve_checkpoint(path) == prefix


# -- bad input ----------------------------------------------------------------------------


def test_a_directory_without_a_checkpoint(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(MissingFileError) as err:
        restore_meta_graph(tmp_path)
    assert f"no checkpoint in directory '{tmp_path}'" in str(err.value)
    assert "notes.txt" in str(err.value) and ".index" in str(err.value)


def test_a_prefix_that_does_not_exist_lists_the_checkpoints_there(slim_ckpt):
    with pytest.raises(MissingFileError) as err:
        checkpoint_contents(f"{slim_ckpt}/model.ckpt-99")
    assert "model.ckpt-99.index does not exist" in str(err.value)
    assert "model.ckpt-100" in str(err.value)


def test_a_truncated_data_file(slim_ckpt, tmp_path):
    # the copy's state file still names the original by absolute path: the copy must be used
    broken = shutil.copytree(slim_ckpt, tmp_path / "broken")
    assert resolve_checkpoint(broken) == str(broken / "model.ckpt-100")
    data = next(broken.glob("*.data-*"))
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    with pytest.raises(InvalidFileError) as err:
        restore_meta_graph(broken)
    assert "is truncated or corrupt" in str(err.value) and str(broken) in str(err.value)
    with pytest.raises(InvalidFileError, match="truncated or corrupt"):
        checkpoint_contents(broken, verify=True)


def test_a_meta_graph_from_another_graph(slim_ckpt, tmp_path):
    g = tf.Graph()
    with g.as_default():
        v1.get_variable("resnet/conv1/weights", [3, 3, 3, 8])
        meta = tmp_path / "other.meta"
        v1.train.export_meta_graph(str(meta), graph=g)
    with pytest.raises(MismatchError) as err:
        restore_meta_graph(slim_ckpt, meta=meta)
    msg = str(err.value)
    assert f"meta graph {meta} does not match checkpoint" in msg
    assert "a .meta from another graph?" in msg
    assert "missing from the checkpoint:\n    resnet/conv1/weights" in msg


def test_a_file_that_is_not_a_meta_graph(slim_ckpt, tmp_path):
    junk = tmp_path / "model.meta"
    junk.write_bytes(b"\x00\xffnot a protobuf" * 10)
    with pytest.raises(InvalidFileError, match="is not a MetaGraphDef"):
        restore_meta_graph(slim_ckpt, meta=junk)


def test_an_unknown_tensor_name_lists_close_matches(method1):
    with pytest.raises(UnknownNameError) as err:
        method1.run("MobilenetV2/expanded_conv_14/ouput", {"input": np.zeros((1, 32, 32, 3))})
    assert "unknown tensor 'MobilenetV2/expanded_conv_14/ouput:0'" in str(err.value)
    assert "closest: 'MobilenetV2/expanded_conv_14/output:0'" in str(err.value)
    with pytest.raises(UnknownNameError, match="unknown variable 'MobilenetV2/Conv/weight'"):
        method1.value("MobilenetV2/Conv/weight")


@pytest.mark.parametrize(
    ("prefix", "asked", "hint"),
    [
        (
            "",
            "import/input",
            "loaded with no name prefix, so its names do not start with 'import/'; use 'input:0'",
        ),
        (
            "net",
            "import/input:0",
            "loaded with prefix 'net', so its names do not start with 'import/'; use 'net/input:0'",
        ),
    ],
)
def test_import_prefix_confusion_is_explained(slim_pb, prefix, asked, hint):
    with load_pb(slim_pb, prefix=prefix) as net:
        with pytest.raises(UnknownNameError) as err:
            net.tensor(asked)
    assert hint in str(err.value)


def test_graphs_with_file_ops_are_refused_before_anything_runs(slim_ckpt, tmp_path):
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.string, [], name="input")
        tf.io.write_file("/tmp/leak", x, name="leak")
        v1.train.export_meta_graph(str(tmp_path / "evil.meta"), graph=g)
    pb = tmp_path / "evil.pb"
    pb.write_bytes(g.as_graph_def().SerializeToString())
    refused = "node 'leak' \\(WriteFile: writes files\\)"
    with pytest.raises(UnsafeGraphError, match=refused):
        load_pb(pb)
    with pytest.raises(UnsafeGraphError, match=refused):
        restore_meta_graph(slim_ckpt, meta=tmp_path / "evil.meta")
