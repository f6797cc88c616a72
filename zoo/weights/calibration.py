"""Temperature scaling (Guo et al., ICML 2017): probabilities that mean what they say.

The published MNIST weights were trained with label smoothing, which makes them accurate but
under-confident: their top probability averages about 0.91 where they are right 99.6 % of the
time. Dividing every logit by one temperature T < 1 before the softmax (the sigmoid, for a
binary model) fixes that without moving any argmax, so the accuracy stays what it was.

`fit_temperature` finds the T that minimises the negative log-likelihood (NLL) of a split, by
bisection on the sign of the derivative (NLL is convex in 1/T, so this is the global minimum,
found deterministically to machine precision). `calibrate_model` fits it on the validation split
and measures NLL and the expected calibration error (ECE, 15 equal-width bins) on the test split,
before and after. A binary model's logit z is treated as the two-class logits (0, z), whose
softmax is (1 - sigmoid(z), sigmoid(z)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor

from zoo.data import ToyDataModule
from zoo.data.loader import TensorBatchLoader
from zoo.errors import BadInput
from zoo.models import Regressor, ZooModule
from zoo.weights.evaluate import DATAMODULES, REL_TOLERANCE, round_significant, split_sha256
from zoo.weights.table import CALIBRATION_SPLIT, Calibration, Weight, WeightError

BINS = 15
# The search interval of T: far outside anything a trained network needs (0.3 to 3). An optimum
# at its edge means the NLL has none (e.g. every validation prediction right by a margin).
TEMPERATURE_BOUNDS = (0.01, 100.0)
# A re-measured ECE differs from the recorded one by float rounding (about 1e-7), and by at most
# 2 / samples for each sample whose confidence lies so close to a bin edge that another CPU's
# rounding may put it in the neighbouring bin: the tolerance counts those samples.
ECE_TOLERANCE = 1e-6
EDGE_MARGIN = 1e-5


# Why a weight has no temperature, as its card and `zoo.weights.calibrate` say it.
REGRESSION_REASON = "a regression model outputs values, not probabilities"
NO_HELD_OUT_REASON = (
    "its DataModule has no held-out validation data (the course's points are its training, "
    "validation and test data alike), and a temperature fitted on training data calibrates nothing"
)
NO_OPTIMUM_REASON = (
    "the NLL of its validation split has its minimum at no temperature between "
    f"{TEMPERATURE_BOUNDS[0]:g} and {TEMPERATURE_BOUNDS[1]:g}"
)


class CalibrationError(BadInput):
    """A temperature that cannot be fitted: no probabilities, no held-out data, or no optimum."""


# --- the mathematics -------------------------------------------------------------------------


def class_logits(logits: Tensor) -> Tensor:
    """(N, K) logits as they are; a binary model's (N, 1) or (N,) logit z as (N, 2) = (0, z)."""
    if logits.ndim == 1:
        logits = logits[:, None]
    if logits.ndim != 2 or logits.shape[0] == 0:
        raise ValueError(f"expected logits (N, classes) or (N,), got {tuple(logits.shape)}")
    if logits.shape[1] == 1:
        return torch.cat([torch.zeros_like(logits), logits], dim=1)
    return logits


def class_labels(labels: Tensor, samples: int) -> Tensor:
    """Class indices (N,) as int64, from class indices or a binary model's 0/1 floats."""
    labels = labels.reshape(-1)
    if labels.shape[0] != samples:
        raise ValueError(f"{labels.shape[0]} labels for {samples} samples")
    return labels.long()


def class_probabilities(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """softmax(logits / T) per row, in float64: (N, K), or (N, 2) for a binary model's logit."""
    return (class_logits(logits).double() / temperature).softmax(dim=1)


def negative_log_likelihood(logits: Tensor, labels: Tensor, temperature: float = 1.0) -> float:
    """Mean NLL of `labels` under softmax(logits / T) (sigmoid for a binary logit)."""
    z = class_logits(logits).double()
    return F.cross_entropy(z / temperature, class_labels(labels, len(z))).item()


@dataclass(frozen=True)
class Reliability:
    """Per-bin statistics of top-1 confidence: what the ECE and a reliability diagram show.

    Bin `i` holds the samples whose confidence lies in (i / bins, (i + 1) / bins].
    """

    counts: tuple[int, ...]
    accuracy: tuple[float, ...]  # per bin; NaN for an empty bin
    confidence: tuple[float, ...]  # mean top-1 probability per bin; NaN for an empty bin
    samples: int
    overall_accuracy: float
    near_edges: int  # samples within EDGE_MARGIN of a bin edge

    @property
    def ece_tolerance(self) -> float:
        """How far a re-measured ECE may honestly differ from this one (see ECE_TOLERANCE)."""
        return ECE_TOLERANCE + 2 * self.near_edges / self.samples

    @property
    def bins(self) -> int:
        """The number of equal-width bins."""
        return len(self.counts)

    @property
    def ece(self) -> float:
        """Expected calibration error: Σ_b |B_b| / N · |accuracy(B_b) - confidence(B_b)|."""
        return sum(
            n / self.samples * abs(acc - conf)
            for n, acc, conf in zip(self.counts, self.accuracy, self.confidence, strict=True)
            if n
        )

    @property
    def mean_confidence(self) -> float:
        """The mean top-1 probability over all samples."""
        return sum(n * c for n, c in zip(self.counts, self.confidence, strict=True) if n) / (
            self.samples
        )


def reliability(probabilities: Tensor, labels: Tensor, bins: int = BINS) -> Reliability:
    """The reliability statistics of class probabilities (N, K) against class indices (N,)."""
    if probabilities.ndim != 2 or probabilities.shape[0] == 0:
        raise ValueError(f"expected probabilities (N, classes), got {tuple(probabilities.shape)}")
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    labels = class_labels(labels, len(probabilities))
    confidence, predicted = probabilities.double().max(dim=1)
    correct = (predicted == labels).double()
    edges = torch.linspace(0, 1, bins + 1, dtype=torch.float64)[1:-1]
    # right=False: boundaries[i-1] < x <= boundaries[i], i.e. bins (i/B, (i+1)/B].
    index = torch.bucketize(confidence, edges, right=False)
    counts = torch.bincount(index, minlength=bins)
    hits = torch.bincount(index, weights=correct, minlength=bins)
    mass = torch.bincount(index, weights=confidence, minlength=bins)
    near = 0
    if bins > 1:
        distance = (confidence[:, None] - edges[None, :]).abs().amin(dim=1)
        near = int((distance < EDGE_MARGIN).sum())
    empty = counts == 0
    safe = counts.clamp(min=1).double()
    nan = torch.full_like(safe, math.nan)
    return Reliability(
        counts=tuple(counts.tolist()),
        accuracy=tuple(torch.where(empty, nan, hits / safe).tolist()),
        confidence=tuple(torch.where(empty, nan, mass / safe).tolist()),
        samples=len(labels),
        overall_accuracy=correct.mean().item(),
        near_edges=near,
    )


def expected_calibration_error(probabilities: Tensor, labels: Tensor, bins: int = BINS) -> float:
    """ECE of class probabilities (N, K) against class indices (N,), `bins` equal-width bins."""
    return reliability(probabilities, labels, bins).ece


def _nll_slope(z: Tensor, labels: Tensor, beta: float) -> float:
    # d NLL / d beta for softmax(beta z): mean over samples of E_p[z] - z_label. NLL is convex in
    # beta (log-sum-exp of a linear function minus a linear one), so the slope only increases.
    p = (beta * z).softmax(dim=1)
    return ((p * z).sum(dim=1) - z.gather(1, labels[:, None])[:, 0]).mean().item()


def fit_temperature(
    logits: Tensor, labels: Tensor, bounds: tuple[float, float] = TEMPERATURE_BOUNDS
) -> float:
    """The temperature T in `bounds` that minimises the NLL of `labels` under softmax(logits/T).

    Deterministic: bisection (in log space) on the sign of the NLL's derivative with respect to
    1/T, in float64. Raises `CalibrationError` when the minimum is not inside `bounds`.
    """
    z = class_logits(logits).double()
    y = class_labels(labels, len(z))
    low_t, high_t = bounds
    if not 0 < low_t < high_t < math.inf:
        raise ValueError(f"bounds must be 0 < low < high < inf, got {bounds}")
    where = f"the NLL has its minimum at no temperature between {low_t:g} and {high_t:g}"
    if torch.equal(z.amax(dim=1), z.amin(dim=1)):
        raise CalibrationError(f"{where}: every logit is the same, so T changes nothing")
    low, high = 1 / high_t, 1 / low_t  # in beta = 1 / T
    if _nll_slope(z, y, high) < 0:
        raise CalibrationError(
            f"{where}: every prediction is right with a margin, so the NLL keeps falling as T "
            "goes to 0 (towards probabilities of exactly 0 and 1)"
        )
    if _nll_slope(z, y, low) > 0:
        raise CalibrationError(
            f"{where}: the logits say too little about the labels, so the NLL keeps falling "
            "as T grows (towards uniform probabilities)"
        )
    while high / low - 1 > 1e-12:
        middle = math.sqrt(low * high)
        if _nll_slope(z, y, middle) > 0:
            high = middle
        else:
            low = middle
    return 1 / math.sqrt(low * high)


# --- a model on a DataModule's split ---------------------------------------------------------


@dataclass(frozen=True)
class SplitOutputs:
    """A model's raw outputs (logits) on one split, the labels, and the split's SHA-256."""

    logits: Tensor
    labels: Tensor
    sha256: str


def _loader(datamodule: L.LightningDataModule, split: str) -> TensorBatchLoader:
    datamodule.prepare_data()
    datamodule.setup("validate" if split == "val" else "test")
    loader = datamodule.val_dataloader() if split == "val" else datamodule.test_dataloader()
    if not isinstance(loader, TensorBatchLoader):
        raise WeightError(f"{type(datamodule).__name__} is not a zoo DataModule")
    return loader


def split_outputs(model: ZooModule, datamodule: L.LightningDataModule, split: str) -> SplitOutputs:
    """`model`'s logits on the `val` or `test` split: CPU, float32, eval mode, in order."""
    if split not in ("val", "test"):
        raise ValueError(f"split must be 'val' or 'test', got {split!r}")
    loader = _loader(datamodule, split)
    was_training = model.training
    model.float().eval()
    outputs, labels = [], []
    try:
        with torch.inference_mode():
            for batch in loader:
                # The DataModule's own hook turns uint8 images into the normalised floats the
                # model was trained on (the identity for tabular and toy data).
                x, y = datamodule.on_after_batch_transfer(batch, 0)[:2]
                outputs.append(model(x))
                labels.append(y)
    finally:
        model.train(was_training)
    return SplitOutputs(torch.cat(outputs), torch.cat(labels), split_sha256(loader.tensors))


def calibration_obstacle(model: ZooModule, datamodule: L.LightningDataModule) -> str | None:
    """Why no temperature can be fitted for `model` on `datamodule`, or None if one can."""
    if isinstance(model, Regressor):
        return REGRESSION_REASON
    if isinstance(datamodule, ToyDataModule):
        return NO_HELD_OUT_REASON
    return None


def uncalibrated_reason(weight: Weight) -> str:
    """Why a published weight records no temperature, from its table entry alone (for cards)."""
    if weight.categories is None:
        return REGRESSION_REASON
    datamodule = DATAMODULES.get(weight.dataset.datamodule)
    if datamodule is not None and issubclass(datamodule, ToyDataModule):
        return NO_HELD_OUT_REASON
    return NO_OPTIMUM_REASON


@dataclass(frozen=True)
class CalibrationRun:
    """A fitted calibration with the test reliability before and after (for the diagram)."""

    calibration: Calibration
    before: Reliability
    after: Reliability
    test_sha256: str


def measure(outputs: SplitOutputs, temperature: float, bins: int = BINS) -> tuple[float, float]:
    """(NLL, ECE) of the split's labels under softmax(logits / T)."""
    probabilities = class_probabilities(outputs.logits, temperature)
    nll = negative_log_likelihood(outputs.logits, outputs.labels, temperature)
    return nll, expected_calibration_error(probabilities, outputs.labels, bins)


def calibrate_model(model: ZooModule, datamodule: L.LightningDataModule) -> CalibrationRun:
    """Fit T on the validation split, measure NLL and ECE on the test split before and after.

    Raises `CalibrationError` (with the reason) when no temperature can be fitted.
    """
    obstacle = calibration_obstacle(model, datamodule)
    if obstacle is not None:
        raise CalibrationError(obstacle)
    val = split_outputs(model, datamodule, "val")
    # Rounded as the table stores it: the recorded figures are those of the recorded T.
    temperature = round_significant(fit_temperature(val.logits, val.labels))
    test = split_outputs(model, datamodule, "test")
    return run_for(test, temperature, fitted_on=val)


def run_for(test: SplitOutputs, temperature: float, fitted_on: SplitOutputs) -> CalibrationRun:
    """The `CalibrationRun` of temperature T fitted on `fitted_on`, measured on `test`."""
    nll_before, ece_before = measure(test, 1.0)
    nll_after, ece_after = measure(test, temperature)
    calibration = Calibration(
        temperature=temperature,
        fitted_on=CALIBRATION_SPLIT,
        samples=len(fitted_on.labels),
        split_sha256=fitted_on.sha256,
        bins=BINS,
        nll_before=round_significant(nll_before),
        nll_after=round_significant(nll_after),
        ece_before=round_significant(ece_before),
        ece_after=round_significant(ece_after),
    )
    before = reliability(class_probabilities(test.logits), test.labels)
    after = reliability(class_probabilities(test.logits, temperature), test.labels)
    return CalibrationRun(calibration, before, after, test.sha256)


@dataclass(frozen=True)
class Remeasured:
    """A recorded calibration measured again: the run with the recorded T, and T fitted anew."""

    run: CalibrationRun
    refitted: float


def remeasure(model: ZooModule, datamodule: L.LightningDataModule, weight: Weight) -> Remeasured:
    """`weight`'s recorded temperature measured again on the test split, and fitted again on
    the validation split (for `zoo eval` and the test that holds the table to reality)."""
    if weight.calibration is None:
        raise CalibrationError(f"{weight.key} records no calibration")
    val = split_outputs(model, datamodule, "val")
    test = split_outputs(model, datamodule, "test")
    refitted = fit_temperature(val.logits, val.labels)
    return Remeasured(run_for(test, weight.calibration.temperature, fitted_on=val), refitted)


def calibration_problems(remeasured: Remeasured, recorded: Calibration) -> list[str]:
    """How a re-measured calibration differs from the recorded one (empty: it reproduces)."""
    measured = remeasured.run.calibration
    problems = []
    if measured.split_sha256 != recorded.split_sha256:
        problems.append("the validation split differs from the one the temperature was fitted on")
    if measured.samples != recorded.samples:
        problems.append(f"{measured.samples} validation samples, recorded {recorded.samples}")
    if not math.isclose(remeasured.refitted, recorded.temperature, rel_tol=REL_TOLERANCE):
        problems.append(
            f"the validation split gives T = {remeasured.refitted:.6g}, recorded "
            f"{recorded.temperature:.6g}"
        )
    tolerance = {
        "ece_before": remeasured.run.before.ece_tolerance,
        "ece_after": remeasured.run.after.ece_tolerance,
    }
    for name in ("nll_before", "nll_after", "ece_before", "ece_after"):
        got, want = getattr(measured, name), getattr(recorded, name)
        if name.startswith("nll"):
            same = math.isclose(got, want, rel_tol=REL_TOLERANCE, abs_tol=1e-9)
        else:
            # Recorded to 6 significant digits: rounding adds up to 5e-7 relative.
            same = abs(got - want) <= tolerance[name] + 1e-6 * abs(want)
        if not same:
            what, when = name.split("_")
            problems.append(f"test {what.upper()} {when} {got:.6g}, recorded {want:.6g}")
    return problems
