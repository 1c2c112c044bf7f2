"""Image input with Pillow: path or bytes -> resized float array in a model's convention.

Handles EXIF orientation (phone photos), grayscale, palette, 16-bit and RGBA images
(transparent pixels are composited onto white), and names the file in every error:
missing, not an image, an image format ftcore does not accept, or truncated.

    >>> from ftcore.assets import photo_paths
    >>> x = load_images([photo_paths()["chelsea_cat"], photo_paths()["cameraman_gray"]], size=224)
    >>> x.shape, x.dtype, float(x.min()) >= -1.0, float(x.max()) <= 1.0
    ((2, 224, 224, 3), dtype('float32'), True, True)
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ftcore.errors import FtcoreError, InvalidFileError, MismatchError
from ftcore.file_kinds import read_file
from ftcore.preprocessing import PREPROCESSING

ImageSource = str | os.PathLike | bytes


#: Formats accepted; anything else Pillow could parse is refused rather than trusted.
FORMATS = ("JPEG", "PNG", "BMP", "GIF", "TIFF", "WEBP", "PPM")

_RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


def image_size(input_shape: Sequence[int | None] | None) -> tuple[int, int]:
    """(H, W) images are resized to for a model's ``[N, H, W, 3]`` input shape, or
    :class:`~ftcore.errors.MismatchError` when it is not one with H and W fixed.

    >>> image_size([None, 224, 160, 3])
    (224, 160)
    """
    dims = list(input_shape[1:]) if input_shape else []
    if len(dims) != 3 or dims[2] != 3 or None in dims:
        raise MismatchError(
            f"input shape {input_shape} is not [N, H, W, 3] with H, W fixed; "
            "cannot resize images for it"
        )
    return int(dims[0]), int(dims[1])


def size_hw(size: int | Sequence[int]) -> tuple[int, int]:
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    if h <= 0 or w <= 0:
        raise ValueError(f"image size must be positive, got {size!r}")
    return int(h), int(w)


def _describe(source: ImageSource) -> str:
    return f"<{len(source)} bytes>" if isinstance(source, bytes) else str(source)


def _open(source: ImageSource) -> Image.Image:
    name = _describe(source)
    data = source if isinstance(source, bytes) else read_file(source, "an image file")
    if not data:
        raise InvalidFileError(f"{name} is empty (0 bytes), expected an image")
    try:
        img = Image.open(io.BytesIO(data), formats=FORMATS)
        img.load()  # decode now, so truncation is reported here with the file's name
    except UnidentifiedImageError:
        head = data[:8]
        raise InvalidFileError(
            f"{name} is not an image in an accepted format ({', '.join(FORMATS)}); "
            f"it starts with {head!r}"
        ) from None
    except Image.DecompressionBombError as e:
        raise InvalidFileError(f"{name} is too large to decode safely: {e}") from None
    except Exception as e:  # noqa: BLE001 - Pillow raises OSError, SyntaxError, ValueError...
        raise _corrupt(name, e) from None
    return img


def _corrupt(name: str, e: Exception) -> InvalidFileError:
    detail = (str(e).strip().splitlines() or [type(e).__name__])[0]
    return InvalidFileError(f"{name} could not be decoded (truncated or corrupt?): {detail}")


def _to_rgb(img: Image.Image) -> Image.Image:
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16/32-bit grayscale -> 8-bit
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        img = Image.fromarray(np.clip(arr * (255.0 / top), 0, 255).astype(np.uint8), "L")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def _resize(img: Image.Image, hw: tuple[int, int], fit: str, resample: str) -> Image.Image:
    h, w = hw
    if fit == "center_crop":  # crop to the target aspect ratio, then resize
        scale = min(img.width / w, img.height / h)
        cw, ch = round(w * scale), round(h * scale)
        left, top = (img.width - cw) // 2, (img.height - ch) // 2
        img = img.crop((left, top, left + cw, top + ch))
    if img.size != (w, h):
        img = img.resize((w, h), _RESAMPLE[resample])
    return img


def load_image(
    source: ImageSource,
    size: int | Sequence[int],
    preprocessing: str = "mobilenet",
    fit: str = "squash",
    resample: str = "bilinear",
) -> np.ndarray:
    """Load one image as float32 ``[H, W, 3]`` in the given ``preprocessing`` convention.

    ``source`` is a path or the file's bytes; ``size`` is ``S`` or ``(H, W)``; ``fit`` is
    ``"squash"`` (like ``keras.utils.load_img(target_size=...)``) or ``"center_crop"``.
    """
    if preprocessing not in PREPROCESSING:
        raise ValueError(
            f"unknown preprocessing {preprocessing!r}; choose from {sorted(PREPROCESSING)}"
        )
    if resample not in _RESAMPLE:
        raise ValueError(f"unknown resample {resample!r}; choose from {sorted(_RESAMPLE)}")
    if fit not in ("squash", "center_crop"):
        raise ValueError(f"fit must be 'squash' or 'center_crop', got {fit!r}")
    hw = size_hw(size)
    with _open(source) as img:
        try:  # EXIF, palette and mode conversions read more of a corrupt file
            rgb = _resize(_to_rgb(img), hw, fit, resample)
        except Exception as e:  # noqa: BLE001 - as in _open
            raise _corrupt(_describe(source), e) from None
        return PREPROCESSING[preprocessing](np.asarray(rgb, dtype=np.float32))


def load_images(sources: Iterable[ImageSource], size: int | Sequence[int], **kwargs) -> np.ndarray:
    """Load many images into one float32 batch ``[N, H, W, 3]`` (kwargs as :func:`load_image`)."""
    arrays = [load_image(s, size, **kwargs) for s in sources]
    if not arrays:
        raise FtcoreError("no images given: expected at least one path or bytes object")
    return np.stack(arrays)


def iter_batches(
    sources: Sequence[ImageSource], size: int | Sequence[int], batch_size: int = 32, **kwargs
) -> Iterator[tuple[list[ImageSource], np.ndarray]]:
    """Yield ``(sources_in_batch, batch_array)`` chunks of at most ``batch_size`` images."""
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    for i in range(0, len(sources), batch_size):
        chunk = list(sources[i : i + batch_size])
        yield chunk, load_images(chunk, size, **kwargs)
