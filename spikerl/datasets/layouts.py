"""File layouts and checksums of MNIST and Fashion-MNIST.

Both datasets use the same four file names. Each file is checked by the md5 of its
*decompressed* bytes where that is known (any gzip wrapper, or none, then passes), else by the
md5 of the distributed ``.gz`` archive.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "FASHION_MNIST_LAYOUT",
    "MNIST_LAYOUT",
    "IdxLayout",
    "IdxResource",
]


@dataclass(frozen=True)
class IdxResource:
    """One IDX file of a dataset.

    Attributes:
        name: File name without ``.gz`` (``train-images-idx3-ubyte``).
        ndim: Number of dimensions (3 for images, 1 for labels).
        md5: md5 of the decompressed bytes, or None if unknown.
        gz_md5: md5 of the distributed ``.gz`` file, or None if unknown.
    """

    name: str
    ndim: int
    md5: str | None = None
    gz_md5: str | None = None

    @property
    def names(self) -> tuple[str, str]:
        """The accepted file names: raw first, then gzip."""
        return (self.name, f"{self.name}.gz")


@dataclass(frozen=True)
class IdxLayout:
    """A classification dataset stored as four IDX files.

    Attributes:
        name: Short name, also the cache folder name (``mnist``).
        title: Human-readable name used in messages (``MNIST``).
        subdirs: Sub-folders of a data root that may hold the files (``<root>/mnist``);
            the first one is where downloads go.
        train_images: Training images (idx3 uint8).
        train_labels: Training labels (idx1 uint8).
        test_images: Test images (idx3 uint8).
        test_labels: Test labels (idx1 uint8).
        image_shape: Shape of one image.
        classes: Class names, index = label.
        mirrors: Base URLs tried in order when downloading ``<mirror>/<name>.gz``.
    """

    name: str
    title: str
    subdirs: tuple[str, ...]
    train_images: IdxResource
    train_labels: IdxResource
    test_images: IdxResource
    test_labels: IdxResource
    image_shape: tuple[int, int] = (28, 28)
    classes: tuple[str, ...] = tuple(str(i) for i in range(10))
    mirrors: tuple[str, ...] = ()

    def split(self, train: bool) -> tuple[IdxResource, IdxResource]:
        """Return (images, labels) resources of the training or test split."""
        if train:
            return self.train_images, self.train_labels
        return self.test_images, self.test_labels


MNIST_LAYOUT = IdxLayout(
    name="mnist",
    title="MNIST",
    subdirs=("mnist", "MNIST", "MNIST/raw"),
    train_images=IdxResource(
        "train-images-idx3-ubyte",
        3,
        md5="6bbc9ace898e44ae57da46a324031adb",
        gz_md5="f68b3c2dcbeaaa9fbdd348bbdeb94873",
    ),
    train_labels=IdxResource(
        "train-labels-idx1-ubyte",
        1,
        md5="a25bea736e30d166cdddb491f175f624",
        gz_md5="d53e105ee54ea40749a09fcbcd1e9432",
    ),
    test_images=IdxResource(
        "t10k-images-idx3-ubyte",
        3,
        md5="2646ac647ad5339dbf082846283269ea",
        gz_md5="9fb629c4189551a2d022fa330f9573f3",
    ),
    test_labels=IdxResource(
        "t10k-labels-idx1-ubyte",
        1,
        md5="27ae3e4e09519cfbb04c329615203637",
        gz_md5="ec29112dd5afa0611ce80d1b7f02629c",
    ),
    classes=(
        "0 - zero",
        "1 - one",
        "2 - two",
        "3 - three",
        "4 - four",
        "5 - five",
        "6 - six",
        "7 - seven",
        "8 - eight",
        "9 - nine",
    ),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
)
"""MNIST (LeCun, Cortes & Burges): 60000 train / 10000 test handwritten digits."""

# Fashion-MNIST publishes md5s of its .gz files only (zalandoresearch/fashion-mnist README,
# also used by torchvision); the md5s of the decompressed files are not published.
FASHION_MNIST_LAYOUT = IdxLayout(
    name="fashion-mnist",
    title="Fashion-MNIST",
    subdirs=("fashion-mnist", "fashion_mnist", "FashionMNIST", "FashionMNIST/raw"),
    train_images=IdxResource(
        "train-images-idx3-ubyte", 3, gz_md5="8d4fb7e6c68d591d4c3dfef9ec88bf0d"
    ),
    train_labels=IdxResource(
        "train-labels-idx1-ubyte", 1, gz_md5="25c81989df183df01b3e8a0aad5dffbe"
    ),
    test_images=IdxResource("t10k-images-idx3-ubyte", 3, gz_md5="bef4ecab320f06d8554ea6380940ec79"),
    test_labels=IdxResource("t10k-labels-idx1-ubyte", 1, gz_md5="bb300cfdad3c16e7a12a480ee83cd310"),
    classes=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
)
"""Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): Zalando article images, MNIST's format."""
