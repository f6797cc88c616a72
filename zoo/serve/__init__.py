"""`zoo serve`: a local web page to draw a digit on and watch the published MNIST models read it.

The page (`static/`) draws on a canvas and asks the JSON API (`server.py`: FastAPI on uvicorn,
documented at /docs) for predictions; requests that arrive together are batched (`batching.py`)
and the models run in a process of their own (`worker.py`); the models and the weights' cards
come from `app.py`, the cards' HTML from `markdown.py`. `python -m zoo.serve.load` measures it
under load. Offline, 127.0.0.1 by default.
"""

from zoo.serve.app import DigitApp
from zoo.serve.server import ZooServer

__all__ = ["DigitApp", "ZooServer"]
