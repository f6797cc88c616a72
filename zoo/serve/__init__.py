"""`zoo serve`: a local web page to draw a digit on and watch the published MNIST models read it.

The page (`static/`) draws on a canvas and asks the JSON API (`server.py`) for predictions; the
models and the weights' cards come from `app.py`. Standard library only, offline, 127.0.0.1 by
default.
"""

from zoo.serve.app import DigitApp
from zoo.serve.server import ZooServer

__all__ = ["DigitApp", "ZooServer"]
