"""The course's networks as LightningModules; importing this package registers them all."""

from zoo.models.base import BinaryClassifier, ImageClassifier, Regressor, ZooModule
from zoo.models.cnn import CNNCIFAR, CNNMNIST
from zoo.models.inception import InceptionBlock, InceptionMNIST
from zoo.models.multifeature import MultiFeatureMLP
from zoo.models.registry import ModelInfo, create_model, list_models, model_info, register_model
from zoo.models.regression import LinearRegression, LogisticRegression
from zoo.models.resnet import BasicBlock, ResidualBlock, ResNetCIFAR, ResNetMNIST
from zoo.models.softmax import SoftmaxMNIST

__all__ = [
    "CNNCIFAR",
    "CNNMNIST",
    "BasicBlock",
    "BinaryClassifier",
    "ImageClassifier",
    "InceptionBlock",
    "InceptionMNIST",
    "LinearRegression",
    "LogisticRegression",
    "ModelInfo",
    "MultiFeatureMLP",
    "Regressor",
    "ResNetCIFAR",
    "ResNetMNIST",
    "ResidualBlock",
    "SoftmaxMNIST",
    "ZooModule",
    "create_model",
    "list_models",
    "model_info",
    "register_model",
]
