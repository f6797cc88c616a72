"""zoo: the models of the course "PyTorch深度学习实践" as fast, tested Lightning modules."""

from zoo.data import FashionMNISTDataModule, ImageDataModule, MNISTDataModule
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
    "FashionMNISTDataModule",
    "ImageDataModule",
    "InceptionMNIST",
    "LinearRegression",
    "LogisticRegression",
    "MNISTDataModule",
    "MultiFeatureMLP",
    "ResNetCIFAR",
    "ResNetMNIST",
    "SoftmaxMNIST",
    "create_model",
    "list_models",
]
