"""IDX files (the MNIST format) and Fashion-MNIST.

IDX (yann.lecun.com/exdb/mnist): a 4-byte magic ``0x00 0x00 <type> <ndim>``, then ``ndim`` big-endian
uint32 sizes, then the values, big-endian, in C order. Types: 0x08 uint8, 0x09 int8, 0x0B int16,
0x0C int32, 0x0D float32, 0x0E float64. Files may be gzip-compressed (detected from the gzip magic
``1f 8b``, not the file name).

Fashion-MNIST (Xiao, Rasul & Vollgraf 2017; 60,000 training / 10,000 test 28x28 grey images, 10
classes) comes from the Debian package ``dataset-fashion-mnist``, which installs
``/usr/share/datasets/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``; ``root``
overrides the directory (plain or ``.gz`` files). Nothing is downloaded.
"""
from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from .dataset import Dataset

IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

FASHION_MNIST_ROOT = "/usr/share/datasets/fashion-mnist"  # where dataset-fashion-mnist puts the files
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                         "Bag", "Ankle boot")


def read_idx(path) -> np.ndarray:
    """The array stored in IDX file ``path`` (gzip or plain), in native byte order."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: IDX file missing")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:    # truncated, or damaged inside
            raise ValueError(f"{path}: the gzip file is truncated or corrupt ({exc}); download or install it again "
                             "(for Fashion-MNIST: `apt install --reinstall dataset-fashion-mnist`)") from None
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in IDX_TYPES or raw[3] < 1:
        raise ValueError(f"{path}: not an IDX file (magic bytes {raw[:4].hex()!r}; expected 0000 <type> <ndim> with "
                         f"type in {[hex(t) for t in IDX_TYPES]})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(IDX_TYPES[raw[2]])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"{path}: IDX header says shape {shape} ({expected} bytes) but the file has {len(raw)} "
                         "bytes; the file is truncated or corrupt")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _find(root: Path, stem: str, root_given: bool) -> Path:
    for candidate in (root / f"{stem}.gz", root / stem):
        if candidate.is_file():
            return candidate
    how = ("check root, the directory holding the Fashion-MNIST IDX files (the Debian package "
           f"dataset-fashion-mnist installs them in {FASHION_MNIST_ROOT})" if root_given else
           "install the Debian package with `apt install dataset-fashion-mnist` (files in "
           f"{FASHION_MNIST_ROOT}), or pass root=<directory with the IDX files>")
    raise FileNotFoundError(f"{root / stem}[.gz]: Fashion-MNIST file missing; {how}")


def _images_labels(root: Path, kind: str, root_given: bool):
    image_path = _find(root, f"{kind}-images-idx3-ubyte", root_given)
    label_path = _find(root, f"{kind}-labels-idx1-ubyte", root_given)
    images, labels = read_idx(image_path), read_idx(label_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{image_path}: expected uint8 images of shape (n, 28, 28), got {images.dtype} {images.shape}")
    if labels.dtype != np.uint8 or labels.shape != (images.shape[0],):
        raise ValueError(f"{label_path}: expected {images.shape[0]} uint8 labels to match {image_path.name}, got "
                         f"{labels.dtype} {labels.shape}")
    if labels.size and labels.max() > 9:
        raise ValueError(f"{label_path}: labels must lie in [0, 9], got maximum {labels.max()}")
    # Pixels 0..255 -> [0, 1], flattened row by row to 784 features.
    x = images.reshape(images.shape[0], 28 * 28).astype(np.float64) / 255.0
    return x, labels.astype(np.int64), (str(image_path), str(label_path))


def load_fashion_mnist(root=None) -> Dataset:
    """Fashion-MNIST: ``x`` float64 ``(60000, 784)`` / ``(10000, 784)`` in [0, 1], labels int64 in [0, 9].

    ``root``: a directory with ``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
    ``t10k-images-idx3-ubyte[.gz]`` and ``t10k-labels-idx1-ubyte[.gz]``; default
    ``/usr/share/datasets/fashion-mnist`` (``apt install dataset-fashion-mnist``). The float64 arrays
    take about 440 MB.
    """
    if root is not None and not isinstance(root, (str, Path)):
        raise ValueError(f"root: expected a directory path (str or Path) or None, got {root!r}")
    root_given = root is not None
    root = Path(root) if root_given else Path(FASHION_MNIST_ROOT)
    x_train, y_train, train_files = _images_labels(root, "train", root_given)
    x_test, y_test, test_files = _images_labels(root, "t10k", root_given)
    info = dict(root=str(root), files=train_files + test_files, class_names=FASHION_MNIST_CLASSES)
    return Dataset("fashion-mnist", "classification", x_train, y_train, x_test, y_test, 10, info)
