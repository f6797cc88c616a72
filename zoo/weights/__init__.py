"""Published weights: a declarative table, verified offline loading, downloads, publishing, cards.

```python
from zoo.weights import load_pretrained
model = load_pretrained("logistic_regression")          # the default tag, eval mode, offline
model = load_pretrained("cnn_mnist", "mnist_quick")      # a named tag
```
"""

from zoo.weights.cards import format_metric, render_card, render_weights_table, write_cards
from zoo.weights.evaluate import Evaluation, datamodule_for, evaluate, matches
from zoo.weights.publish import publish, read_checkpoint, source_table
from zoo.weights.store import (
    hub_cache_dir,
    load_pretrained,
    load_weight,
    pretrained_models,
    sha256_of,
    weight_file,
)
from zoo.weights.table import (
    DEFAULT_TAG,
    Weight,
    WeightError,
    WeightTable,
    bundled_files_dir,
    default_table,
)

__all__ = [
    "DEFAULT_TAG",
    "Evaluation",
    "Weight",
    "WeightError",
    "WeightTable",
    "bundled_files_dir",
    "datamodule_for",
    "default_table",
    "evaluate",
    "format_metric",
    "hub_cache_dir",
    "load_pretrained",
    "load_weight",
    "matches",
    "pretrained_models",
    "publish",
    "read_checkpoint",
    "render_card",
    "render_weights_table",
    "sha256_of",
    "source_table",
    "weight_file",
    "write_cards",
]
