"""Load a ``keras.applications`` backbone from a local weights file and cut it at a layer.

ftcore never downloads: ``weights="imagenet"`` means "the file Keras would have cached in
``~/.keras/models/``"; when it is not there the error names the file to put there. A weights
file made for another architecture (or another alpha / number of input channels) is refused
before anything is loaded, with the first layer that disagrees.

    >>> base = load_backbone("MobileNet", (32, 32, 3), weights=None, alpha=0.25)
    >>> cut(base, "conv_dw_6_relu").output.shape
    (None, 2, 2, 64)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import h5py
import keras

from ftcore.errors import FtcoreError, InvalidFileError, MissingFileError, first_line, unknown_name
from ftcore.file_kinds import check_file
from ftcore.keras.internals import inbound_nodes

_MOBILENET_ALPHA = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}


def imagenet_file_name(app: str, input_shape: Sequence[int], **kwargs) -> str | None:
    """The no-top ImageNet weights file name Keras would download for ``app``, or None if unknown.

    >>> imagenet_file_name("MobileNet", (32, 32, 3), alpha=0.25)
    'mobilenet_2_5_224_tf_no_top.h5'
    """
    rows = int(input_shape[0]) if input_shape and input_shape[0] else 224
    alpha = float(kwargs.get("alpha", 1.0))
    if app == "MobileNet":
        rows = rows if rows in (128, 160, 192, 224) else 224
        return f"mobilenet_{_MOBILENET_ALPHA.get(alpha, alpha)}_{rows}_tf_no_top.h5"
    if app == "MobileNetV2":
        rows = rows if rows in (96, 128, 160, 192, 224) else 224
        return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_{rows}_no_top.h5"
    if app.startswith("EfficientNetB"):
        return f"efficientnet{app[-2:].lower()}_notop.h5"
    fixed = {
        "ResNet50": "resnet50",
        "VGG16": "vgg16",
        "VGG19": "vgg19",
        "InceptionV3": "inception_v3",
        "Xception": "xception",
        "DenseNet121": "densenet121",
        "DenseNet169": "densenet169",
        "DenseNet201": "densenet201",
    }
    if app in fixed:
        return f"{fixed[app]}_weights_tf_dim_ordering_tf_kernels_notop.h5"
    return None


def keras_cache_dir() -> Path:
    """Where Keras caches downloaded weights: ``$KERAS_HOME/models`` or ``~/.keras/models``."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def load_backbone(
    app: str,
    input_shape: Sequence[int],
    weights: str | os.PathLike | None,
    *,
    cache_dir: str | os.PathLike | None = None,
    **kwargs,
) -> keras.Model:
    """Build ``keras.applications.<app>(include_top=False)`` and load ``weights`` from disk.

    ``weights`` is a local file (legacy ``.h5`` or Keras 3 ``.weights.h5``), ``None`` (random
    init) or ``"imagenet"`` (the cached file in ``cache_dir``, default :func:`keras_cache_dir`).
    Extra keyword arguments (``alpha``...) go to the constructor.

    >>> load_backbone("MobileNet", (32, 32, 3), weights=None, alpha=0.25).name
    'mobilenet_0.25_32'

    Raises UnknownNameError (no such application), MissingFileError (no file; for
    ``"imagenet"`` it names the expected file and cache folder) and InvalidFileError (a file
    for another architecture or input shape, or not a weights file).
    """
    candidates = [n for n in dir(keras.applications) if n[:1].isupper()]
    if app not in candidates:
        raise unknown_name("keras application", app, candidates)
    input_shape = tuple(input_shape)
    what = f"{app}(input_shape={input_shape}{''.join(f', {k}={v!r}' for k, v in kwargs.items())})"
    if isinstance(weights, str) and weights == "imagenet":
        weights = _cached_imagenet_file(app, input_shape, cache_dir, **kwargs)
    model = getattr(keras.applications, app)(
        include_top=False, weights=None, input_shape=input_shape, **kwargs
    )
    if weights is not None:
        load_checked_weights(model, weights, what=what)
    return model


def _cached_imagenet_file(app, input_shape, cache_dir, **kwargs) -> Path:
    folder = Path(cache_dir) if cache_dir is not None else keras_cache_dir()
    name = imagenet_file_name(app, input_shape, **kwargs)
    if name is None:
        raise MissingFileError(
            f'weights="imagenet" for {app}: ftcore does not download weights and does not know '
            f"the file name Keras uses for {app}; pass weights=<path to a local no-top .h5 file>"
        )
    path = folder / name
    if not path.is_file():
        raise MissingFileError(
            f'weights="imagenet" for {app}: no cached file {name!r} in {folder} '
            f"(Keras's cache, ~/.keras/models/ by default) and ftcore does not download; "
            f"copy {name} there or pass weights=<path to the file>"
        )
    return path


def load_checked_weights(model: keras.Model, path: str | os.PathLike, *, what: str = "") -> None:
    """Load a weights file into ``model`` after checking it was made for this architecture.

    For legacy HDF5 weights (the files ``keras.applications`` downloads) layer names, counts
    and shapes are compared first; any other format is loaded by Keras and its failure
    re-raised as InvalidFileError naming the file.

    >>> m = keras.applications.MobileNet((32, 32, 3), alpha=0.25, include_top=False, weights=None)
    >>> load_checked_weights(m, "/no/such.h5")
    Traceback (most recent call last):
    ftcore.errors.MissingFileError: no such file: /no/such.h5 (expected a weights file (.h5, .weights.h5))
    """
    what = what or f"model {model.name!r}"
    path = check_file(path, "a weights file (.h5, .weights.h5)")
    try:
        if h5py.is_hdf5(path):
            with h5py.File(path, "r") as f:
                group = f["model_weights"] if "model_weights" in f else f
                if "layer_names" in group.attrs:
                    _check_legacy_h5(group, model, path, what)
        model.load_weights(path)
    except FtcoreError:
        raise
    except Exception as e:  # noqa: BLE001 - h5py and Keras raise OSError, ValueError, KeyError...
        raise InvalidFileError(
            f"weights file {path} does not fit {what}, or it is truncated or corrupt: "
            f"{type(e).__name__}: {first_line(e)}"
        ) from None


def _decode(v) -> str:
    return v.decode("utf8") if isinstance(v, bytes) else str(v)


def _check_legacy_h5(group, model: keras.Model, path: Path, what: str) -> None:
    file_layers = []
    for name in (_decode(n) for n in group.attrs["layer_names"]):
        names = [_decode(w) for w in group[name].attrs.get("weight_names", [])]
        if names:
            file_layers.append((name, [tuple(group[name][w].shape) for w in names]))
    model_layers = [(layer.name, [tuple(w.shape) for w in layer.weights]) for layer in model.layers]
    model_layers = [entry for entry in model_layers if entry[1]]
    if len(file_layers) != len(model_layers):
        raise InvalidFileError(
            f"weights file {path} holds weights for {len(file_layers)} layers but {what} has "
            f"{len(model_layers)} layers with weights: it was made for another architecture"
        )
    for (fname, fshapes), (mname, mshapes) in zip(file_layers, model_layers, strict=True):
        if fname != mname:
            raise InvalidFileError(
                f"weights file {path} has layer {fname!r} where {what} has {mname!r}: "
                "it was made for another architecture"
            )
        if fshapes != mshapes:
            raise InvalidFileError(
                f"weights file {path}, layer {fname!r}: file shapes {fshapes}, {what} expects "
                f"{mshapes}: the file was made for another width (alpha) or input shape"
            )


def iter_layers(model: keras.Model, prefix: str = ""):
    """Yield ``(path, layer, owner)`` for every layer, descending into nested models.

    ``path`` is ``"outer_layer/inner_layer"`` for nested layers; ``owner`` is the model that
    holds the layer directly.
    """
    for layer in model.layers:
        path = prefix + layer.name
        yield path, layer, model
        if isinstance(layer, keras.Model):
            yield from iter_layers(layer, path + "/")


def model_inputs(model: keras.Model):
    """``model``'s input tensor, or the list of them when it has several.

    A functional model built on a one-element list warns on every call with a bare tensor
    ("The structure of `inputs` doesn't match"); ftcore builds on the tensor itself.
    """
    return model.inputs[0] if len(model.inputs) == 1 else model.inputs


def cut(model: keras.Model, at: str | int, *, name: str | None = None) -> keras.Model:
    """A model from ``model``'s inputs to the output of layer ``at`` (a name or an index).

    A name may be a layer of a nested backbone (``"mobilenet_0.25_32/conv_dw_6_relu"`` or just
    ``"conv_dw_6_relu"``): the cut backbone is re-applied to the tensor that fed it in the outer
    model, so layers before it (preprocessing) are kept and no "Graph disconnected" arises.
    The returned model shares its layers (and weights) with ``model``.

    >>> base = keras.applications.MobileNet((32, 32, 3), alpha=0.25, include_top=False, weights=None)
    >>> len(cut(base, 39).layers), cut(base, "conv_dw_6_relu").output.shape
    (40, (None, 2, 2, 64))
    """
    name = name or f"{model.name}_cut"
    if isinstance(at, int):
        try:
            layer = model.layers[at]
        except IndexError:
            raise unknown_name("layer index", str(at), [f"0..{len(model.layers) - 1}"]) from None
        return keras.Model(model_inputs(model), layer.output, name=name)
    found = [(p, layer, owner) for p, layer, owner in iter_layers(model) if at in (p, layer.name)]
    if not found:
        found = list(iter_layers(model))
        names = dict.fromkeys([p for p, _, _ in found] + [layer.name for _, layer, _ in found])
        raise unknown_name("layer", at, names, where=model.name)
    path, layer, owner = found[0]
    if owner is model:
        return keras.Model(model_inputs(model), layer.output, name=name)
    return _cut_nested(model, path, name)


def _cut_nested(model: keras.Model, path: str, name: str) -> keras.Model:
    head, rest = path.split("/", 1)
    inner = model.get_layer(head)
    inner_cut = cut(inner, rest, name=f"{inner.name}_cut")
    for node in reversed(inbound_nodes(inner)):  # the node that belongs to `model`'s graph
        try:
            return keras.Model(model_inputs(model), inner_cut(*node.input_tensors), name=name)
        except ValueError:
            continue
    return inner_cut  # `inner` is not wired into `model`'s graph: cut it on its own inputs
