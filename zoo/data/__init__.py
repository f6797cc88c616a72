"""DataModules: tensor-resident image datasets, tabular data and the course's toy data."""

from zoo.data.base import ImageDataModule, TensorDataModule, default_data_dir
from zoo.data.cifar import CIFAR10DataModule
from zoo.data.loader import TensorBatchLoader
from zoo.data.mnist import FashionMNISTDataModule, MNISTDataModule
from zoo.data.tabular import TabularDataModule
from zoo.data.toy import LinearToyDataModule, LogisticToyDataModule, ToyDataModule

__all__ = [
    "CIFAR10DataModule",
    "FashionMNISTDataModule",
    "ImageDataModule",
    "LinearToyDataModule",
    "LogisticToyDataModule",
    "MNISTDataModule",
    "TabularDataModule",
    "TensorBatchLoader",
    "TensorDataModule",
    "ToyDataModule",
    "default_data_dir",
]
