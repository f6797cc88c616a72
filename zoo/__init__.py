"""zoo: the models of the course "PyTorch深度学习实践" as fast, tested Lightning modules."""

from zoo.allocator import keep_freed_memory
from zoo.data import (
    CIFAR10DataModule,
    FashionMNISTDataModule,
    ImageDataModule,
    LinearToyDataModule,
    LogisticToyDataModule,
    MNISTDataModule,
    TabularDataModule,
)
from zoo.models import (
    CNNCIFAR,
    CNNMNIST,
    InceptionMNIST,
    LinearRegression,
    LogisticRegression,
    MultiFeatureMLP,
    ResNetCIFAR,
    ResNetMNIST,
    SoftmaxMNIST,
    create_model,
    list_models,
)

__version__ = "0.1.0"

__all__ = [
    "CNNCIFAR",
    "CNNMNIST",
    "CIFAR10DataModule",
    "FashionMNISTDataModule",
    "ImageDataModule",
    "InceptionMNIST",
    "LinearRegression",
    "LinearToyDataModule",
    "LogisticRegression",
    "LogisticToyDataModule",
    "MNISTDataModule",
    "MultiFeatureMLP",
    "ResNetCIFAR",
    "ResNetMNIST",
    "SoftmaxMNIST",
    "TabularDataModule",
    "create_model",
    "keep_freed_memory",
    "list_models",
]
