"""Temperature scaling: the ECE, the fit, and what a temperature does (and does not) change."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F

import zoo
from zoo.hub import create_model
from zoo.weights.calibration import (
    CalibrationError,
    class_probabilities,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    reliability,
)

# --- the expected calibration error ----------------------------------------------------------


def test_ece_of_a_hand_example() -> None:
    # Top-1 confidences 0.9 (right), 0.9 (wrong), 0.65 (right), 0.75 (right). With 15 bins they
    # fall in (13/15, 14/15], (9/15, 10/15] and (11/15, 12/15]:
    # ECE = 2/4 · |0.5 - 0.9| + 1/4 · |1 - 0.65| + 1/4 · |1 - 0.75| = 0.2 + 0.0875 + 0.0625.
    p = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.65, 0.35], [0.25, 0.75]], dtype=torch.float64)
    y = torch.tensor([0, 1, 0, 1])
    assert expected_calibration_error(p, y) == pytest.approx(0.35, abs=1e-12)
    # One bin: |accuracy - mean confidence| = |0.75 - 0.8| over all samples.
    assert expected_calibration_error(p, y, bins=1) == pytest.approx(0.05, abs=1e-12)
    stats = reliability(p, y)
    assert stats.counts[13] == 2 and stats.counts[9] == 1 and stats.counts[11] == 1
    assert sum(stats.counts) == 4 and stats.overall_accuracy == 0.75
    assert stats.accuracy[13] == 0.5 and stats.confidence[13] == pytest.approx(0.9)
    assert math.isnan(stats.accuracy[0]) and math.isnan(stats.confidence[0])  # empty bin
    assert stats.mean_confidence == pytest.approx(0.8)


def test_ece_bins_are_closed_on_the_right() -> None:
    # Bin i is (i/B, (i+1)/B]: confidence 1 is in the last bin, 0.5 in the first of two.
    p = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    stats = reliability(p, torch.tensor([0, 1]), bins=2)
    assert stats.counts == (1, 1)


def test_a_perfectly_calibrated_set_has_zero_ece() -> None:
    # Ten samples at confidence 0.7, seven of them right.
    p = torch.tensor([[0.7, 0.3]] * 10, dtype=torch.float64)
    y = torch.tensor([0] * 7 + [1] * 3)
    assert expected_calibration_error(p, y) == pytest.approx(0.0, abs=1e-12)


def test_bad_inputs_are_one_clear_error() -> None:
    with pytest.raises(ValueError, match="3 labels for 2 samples"):
        expected_calibration_error(torch.tensor([[0.5, 0.5]] * 2), torch.tensor([0, 1, 0]))
    with pytest.raises(ValueError, match="bins must be at least 1"):
        expected_calibration_error(torch.tensor([[0.5, 0.5]]), torch.tensor([0]), bins=0)
    with pytest.raises(ValueError, match=r"expected logits \(N, classes\)"):
        fit_temperature(torch.zeros(2, 3, 4), torch.zeros(2))


# --- the temperature fit ----------------------------------------------------------------------


def test_binary_fit_finds_the_known_optimum() -> None:
    # Every logit is 1 and 3 of 4 labels are 1: the NLL is least where sigmoid(1 / T) = 3/4,
    # i.e. 1 / T = log 3.
    logits = torch.ones(4, 1)
    labels = torch.tensor([1.0, 1.0, 1.0, 0.0])
    assert fit_temperature(logits, labels) == pytest.approx(1 / math.log(3), rel=1e-9)


def test_multiclass_fit_finds_the_known_optimum() -> None:
    # K = 5 classes, logits (a, 0, 0, 0, 0), class 0 right for a fraction q = 0.8: the optimum
    # has softmax(a / T)[0] = q, i.e. a / T = log(q (K - 1) / (1 - q)).
    a, k, q = 6.0, 5, 0.8
    logits = torch.zeros(50, k)
    logits[:, 0] = a
    labels = torch.zeros(50, dtype=torch.long)
    labels[40:] = torch.arange(10) % (k - 1) + 1
    expected = a / math.log(q * (k - 1) / (1 - q))
    temperature = fit_temperature(logits, labels)
    assert temperature == pytest.approx(expected, rel=1e-9)
    # The optimum is where the derivative vanishes: NLL is larger on both sides.
    nll = negative_log_likelihood(logits, labels, temperature)
    assert nll < negative_log_likelihood(logits, labels, temperature * 1.01)
    assert nll < negative_log_likelihood(logits, labels, temperature / 1.01)


def test_fit_is_deterministic_and_scales_with_the_logits() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(500, 10, generator=generator) * 3
    labels = torch.distributions.Categorical(logits=logits / 2).sample()
    first = fit_temperature(logits, labels)
    assert fit_temperature(logits, labels) == first
    assert fit_temperature(4 * logits, labels) == pytest.approx(4 * first, rel=1e-9)
    assert 1.5 < first < 2.7  # the labels were drawn at T = 2


def test_separated_or_uninformative_data_has_no_temperature() -> None:
    with pytest.raises(CalibrationError, match="keeps falling as T goes to 0"):
        fit_temperature(torch.tensor([[-2.0], [-1.0], [3.0]]), torch.tensor([0.0, 0.0, 1.0]))
    with pytest.raises(CalibrationError, match="keeps falling as T grows"):
        fit_temperature(torch.tensor([[5.0], [5.0]]), torch.tensor([0.0, 1.0]))
    with pytest.raises(CalibrationError, match="every logit is the same"):
        fit_temperature(torch.zeros(3, 4), torch.tensor([0, 1, 2]))


def test_nll_is_cross_entropy_and_binary_cross_entropy() -> None:
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.1, 0.2, 0.3]])
    labels = torch.tensor([0, 2])
    assert negative_log_likelihood(logits, labels, 0.5) == pytest.approx(
        F.cross_entropy(logits / 0.5, labels).item(), rel=1e-6
    )
    z, y = torch.tensor([[2.0], [-1.0], [0.3]]), torch.tensor([1.0, 1.0, 0.0])
    assert negative_log_likelihood(z, y, 2.0) == pytest.approx(
        F.binary_cross_entropy_with_logits(z / 2.0, y[:, None]).item(), rel=1e-6
    )
    binary = class_probabilities(z, 2.0)
    assert torch.allclose(binary[:, 1], torch.sigmoid(z[:, 0].double() / 2.0))


# --- a model's temperature --------------------------------------------------------------------


@pytest.mark.parametrize("temperature", [0.45, 2.0])
def test_calibrated_probabilities_sum_to_one_and_keep_the_argmax(temperature: float) -> None:
    torch.manual_seed(0)
    model = create_model("cnn_mnist").eval()
    x = torch.randn(32, 1, 28, 28)
    with torch.no_grad():
        logits = model(x)
        plain = model.probabilities(logits)
        model.temperature = temperature
        scaled = model.predict_step(x, 0)
        assert torch.equal(model(x), logits)  # forward stays the raw logits
    assert torch.allclose(scaled.sum(dim=1), torch.ones(32), atol=1e-6)
    assert torch.equal(scaled.argmax(dim=1), plain.argmax(dim=1))
    assert torch.allclose(scaled, (logits / temperature).softmax(dim=1), atol=1e-7)
    # T < 1 sharpens, T > 1 flattens the top probability.
    sharper = scaled.max(dim=1).values > plain.max(dim=1).values
    assert bool(sharper.all()) if temperature < 1 else not bool(sharper.any())


def test_binary_probabilities_divide_the_logit_and_keep_the_decision() -> None:
    model = zoo.LogisticRegression().eval()
    x = torch.tensor([[-3.0], [0.2], [4.0]])
    with torch.no_grad():
        logit = model(x)
        plain = model.predict_step(x, 0)
        model.temperature = 0.5
        scaled = model.predict_step(x, 0)
    assert torch.allclose(scaled, torch.sigmoid(logit / 0.5))
    assert torch.equal(scaled > 0.5, plain > 0.5)


def test_a_fresh_model_has_temperature_one_and_unchanged_probabilities() -> None:
    model = create_model("resnet_mnist").eval()
    assert model.temperature == 1.0
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        logits = model(x)
        assert torch.equal(model.predict_step(x, 0), logits.softmax(dim=-1))  # bit for bit
    assert create_model("logistic_regression").temperature == 1.0


def test_the_temperature_stays_out_of_state_dict_and_loss() -> None:
    model = create_model("cnn_mnist")
    before = copy.deepcopy(model.state_dict())
    model.temperature = 0.3
    assert model.state_dict().keys() == before.keys()
    logits, target = torch.randn(5, 10), torch.arange(5)
    assert torch.equal(model.loss(logits, target), create_model("cnn_mnist").loss(logits, target))
    assert copy.deepcopy(model).temperature == 0.3
    assert create_model("cnn_mnist").temperature == 1.0  # per instance, not per class


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf"), "0.5", True])
def test_an_invalid_temperature_is_refused(value) -> None:
    model = create_model("cnn_mnist")
    with pytest.raises(ValueError, match="temperature must be a positive"):
        model.temperature = value
    assert model.temperature == 1.0


def test_a_regression_model_has_no_temperature() -> None:
    model = create_model("linear_regression")
    model.temperature = 1.0  # the only value it has
    with pytest.raises(ValueError, match="regression model: it outputs values"):
        model.temperature = 0.5
    assert model.temperature == 1.0


def test_samples_at_a_bin_edge_widen_the_reproduction_tolerance() -> None:
    # 0.6 is 9/15: another CPU's rounding may put it in either neighbouring bin.
    p = torch.tensor([[0.6, 0.4], [0.9, 0.1], [0.8, 0.2], [0.75, 0.25]], dtype=torch.float64)
    stats = reliability(p, torch.tensor([0, 0, 1, 0]))
    assert stats.near_edges == 2  # 0.6 and 0.8 = 12/15
    assert stats.ece_tolerance == pytest.approx(1e-6 + 2 * 2 / 4)
    assert reliability(p[1:2], torch.tensor([0])).near_edges == 0
