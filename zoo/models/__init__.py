"""The course's networks as LightningModules, one file a lecture; the registry names them.

Importing this package imports no model: each name loads its module on first use.
"""

from zoo.lazy import lazy_attributes

_ORIGINS = {
    "ZooModule": "zoo.models.base",
    "ImageClassifier": "zoo.models.base",
    "BinaryClassifier": "zoo.models.base",
    "Regressor": "zoo.models.base",
    "LinearRegression": "zoo.models.regression",
    "LogisticRegression": "zoo.models.regression",
    "MultiFeatureMLP": "zoo.models.multifeature",
    "SoftmaxMNIST": "zoo.models.softmax",
    "CNNMNIST": "zoo.models.cnn",
    "CNNCIFAR": "zoo.models.cnn",
    "InceptionBlock": "zoo.models.inception",
    "InceptionMNIST": "zoo.models.inception",
    "ResidualBlock": "zoo.models.resnet",
    "ResNetMNIST": "zoo.models.resnet",
    "BasicBlock": "zoo.models.resnet",
    "ResNetCIFAR": "zoo.models.resnet",
    "ModelInfo": "zoo.models.registry",
    "model_info": "zoo.models.registry",
    "model_names": "zoo.models.registry",
    "register_model": "zoo.models.registry",
}

__all__ = sorted(_ORIGINS)
__getattr__, __dir__ = lazy_attributes(__name__, _ORIGINS)
