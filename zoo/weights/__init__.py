"""Published weights as data: a typed table, verified files, downloads, publishing, cards.

```python
from zoo.weights import default_table
weight = default_table().resolve("resnet_mnist")   # the entry `resnet_mnist.default` points at
weight.preprocessing.mean, weight.metrics.value     # typed fields, validated on load
weight.calibration.temperature, weight.calibration.ece_after  # fitted on validation
```

Loading a weight into its model is `zoo.hub` (`zoo.load_pretrained`, `Model.from_pretrained`).
Every name below is imported on first use. `evaluate` and `publish` are the functions of the
modules of those names: import them from there (`from zoo.weights.publish import publish`).
Temperatures of published weights are fitted by `python -m zoo.weights.calibrate [KEY ...]`.
"""

from zoo.lazy import lazy_attributes

_ORIGINS = {
    "Calibration": "zoo.weights.table",
    "DatasetInfo": "zoo.weights.table",
    "EvaluationInfo": "zoo.weights.table",
    "Metrics": "zoo.weights.table",
    "Preprocessing": "zoo.weights.table",
    "TrainingInfo": "zoo.weights.table",
    "DEFAULT_TAG": "zoo.weights.table",
    "Weight": "zoo.weights.table",
    "WeightError": "zoo.weights.table",
    "WeightTable": "zoo.weights.table",
    "bundled_files_dir": "zoo.weights.table",
    "default_table": "zoo.weights.table",
    "hub_cache_dir": "zoo.weights.store",
    "weight_file": "zoo.weights.store",
    "Evaluation": "zoo.weights.evaluate",
    "datamodule_for": "zoo.weights.evaluate",
    "expected_calibration_error": "zoo.weights.calibration",
    "fit_temperature": "zoo.weights.calibration",
    "matches": "zoo.weights.evaluate",
    "read_checkpoint": "zoo.weights.publish",
    "source_table": "zoo.weights.publish",
    "format_metric": "zoo.weights.cards",
    "render_card": "zoo.weights.cards",
    "render_weights_table": "zoo.weights.cards",
    "write_cards": "zoo.weights.cards",
}

__all__ = sorted(_ORIGINS)
__getattr__, __dir__ = lazy_attributes(__name__, _ORIGINS)
