"""DataModules: tensor-resident image datasets, tabular data and the course's toy data."""

from zoo.data.base import ImageDataModule, default_data_dir
from zoo.data.loader import TensorBatchLoader
from zoo.data.mnist import FashionMNISTDataModule, MNISTDataModule

__all__ = [
    "FashionMNISTDataModule",
    "ImageDataModule",
    "MNISTDataModule",
    "TensorBatchLoader",
    "default_data_dir",
]
