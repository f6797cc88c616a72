"""zoo: the models of the course "PyTorch深度学习实践" as fast, tested Lightning modules.

```python
from zoo import ResNetMNIST
model = ResNetMNIST.from_pretrained()
```

Every name below is imported on first use, so `import zoo` is instant.
"""

from zoo import moved
from zoo.lazy import lazy_attributes

__version__ = "0.1.0"

_ORIGINS = {
    "BinaryClassifier": "zoo.models.base",
    "ImageClassifier": "zoo.models.base",
    "Regressor": "zoo.models.base",
    "ZooModule": "zoo.models.base",
    "LinearRegression": "zoo.models.regression",
    "LogisticRegression": "zoo.models.regression",
    "MultiFeatureMLP": "zoo.models.multifeature",
    "SoftmaxMNIST": "zoo.models.softmax",
    "CNNMNIST": "zoo.models.cnn",
    "CNNCIFAR": "zoo.models.cnn",
    "InceptionMNIST": "zoo.models.inception",
    "ResNetMNIST": "zoo.models.resnet",
    "ResNetCIFAR": "zoo.models.resnet",
    "ImageDataModule": "zoo.data.base",
    "MNISTDataModule": "zoo.data.mnist",
    "FashionMNISTDataModule": "zoo.data.mnist",
    "CIFAR10DataModule": "zoo.data.cifar",
    "TabularDataModule": "zoo.data.tabular",
    "LinearToyDataModule": "zoo.data.toy",
    "LogisticToyDataModule": "zoo.data.toy",
    "create_model": "zoo.hub",
    "list_models": "zoo.hub",
    "load_pretrained": "zoo.hub",
    "model_info": "zoo.models.registry",
    "register_model": "zoo.models.registry",
    "keep_freed_memory": "zoo.training.allocator",
}

__all__ = sorted(_ORIGINS)
__getattr__, __dir__ = lazy_attributes(__name__, _ORIGINS)
moved.install()
