"""Fixtures for the predict tests: real MNIST test digits and the published ResNetMNIST."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.data import MNISTDataModule
from zoo.inference.predict import Predictor

DIGITS = 40


@pytest.fixture(scope="session")
def digits(mnist: MNISTDataModule) -> tuple[np.ndarray, np.ndarray]:
    """The first test digits (uint8, N×28×28) and their labels."""
    images, labels = mnist.split_tensors("test")
    return images[:DIGITS, 0].numpy(), labels[:DIGITS].numpy()


@pytest.fixture(scope="session")
def resnet() -> Predictor:
    """The default published ResNetMNIST weights with MNIST's preprocessing."""
    return Predictor.from_pretrained("resnet_mnist")
