"""Does `zoo predict`'s preprocessing give MNIST's accuracy on photo-like files?

Renders all 10,000 official test digits as 200×200 dark-ink-on-light RGB images, runs them
through the same steps `zoo predict` uses, and prints each published MNIST weight's accuracy next
to its accuracy on the dataset's own 28×28 images. Usage: python benchmarks/photo_accuracy.py
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from zoo.data import MNISTDataModule
from zoo.inference.predict import Predictor

MODELS = ("softmax_mnist", "cnn_mnist", "inception_mnist", "resnet_mnist")


def as_photo(digit: np.ndarray) -> Image.Image:
    """A 28×28 light-on-dark digit as a 200×200 dark-on-light RGB image."""
    return Image.fromarray(255 - digit).resize((200, 200), Image.Resampling.BICUBIC).convert("RGB")


def accuracy(predictor: Predictor, inputs: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy of `predictor` on uint8 (N, 28, 28) inputs."""
    predicted = predictor.probabilities(inputs).argmax(dim=1).numpy()
    return float((predicted == labels).mean())


def main() -> None:
    """Print dataset vs photo accuracy per published MNIST weight."""
    dm = MNISTDataModule()
    dm.prepare_data()
    dm.setup()
    images, labels = (t.numpy() for t in dm.split_tensors("test"))
    digits = images[:, 0]
    first = Predictor.from_pretrained(MODELS[0])
    photos = np.stack([first.prepare(as_photo(d)) for d in digits])
    print("| weight | dataset images | as 200 px dark-on-light RGB photos |")
    print("|---|---:|---:|")
    for name in MODELS:
        predictor = Predictor.from_pretrained(name)
        dataset, photo = accuracy(predictor, digits, labels), accuracy(predictor, photos, labels)
        print(f"| {predictor.key} | {dataset:.2%} | {photo:.2%} |")


if __name__ == "__main__":
    main()
