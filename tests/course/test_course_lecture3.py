"""Lecture 3 (梯度下降算法): batch GD, SGD, EWMA and the learning-rate sweep."""

import itertools
import math

import pytest

from zoo.course import (
    X_DATA,
    Y_DATA,
    batch_gradient_descent,
    cost,
    ewma,
    gradient,
    has_diverged,
    learning_rate_sweep,
    sample_gradient,
    stochastic_gradient_descent,
)

# d(cost)/dw = 2 * mean(x**2) * (w - 2) for this data, so rates above 2 / (28 / 3) diverge.
CRITICAL_LR = 2 / (28 / 3)


def test_cost_and_gradient_by_hand():
    assert cost(X_DATA, Y_DATA, 1.0) == pytest.approx(14 / 3)
    assert gradient(X_DATA, Y_DATA, 1.0) == pytest.approx(-28 / 3)
    assert gradient(X_DATA, Y_DATA, 2.0) == 0.0
    assert sample_gradient(3.0, 6.0, 1.0) == pytest.approx(-18.0)


@pytest.mark.parametrize("w", [-1.0, 0.5, 2.0, 3.3])
def test_gradient_matches_finite_difference(w):
    h = 1e-6
    numeric = (cost(X_DATA, Y_DATA, w + h) - cost(X_DATA, Y_DATA, w - h)) / (2 * h)
    assert gradient(X_DATA, Y_DATA, w) == pytest.approx(numeric, rel=1e-6, abs=1e-6)


def test_batch_gradient_descent_converges_to_two():
    result = batch_gradient_descent(w=1.0, lr=0.01, epochs=100)
    assert result.w == pytest.approx(2.0, abs=0.01)
    assert len(result.costs) == 101
    assert result.costs[0] == pytest.approx(14 / 3)
    assert all(later < earlier for earlier, later in itertools.pairwise(result.costs))


@pytest.mark.parametrize("seed", [None, 0, 7])
def test_stochastic_gradient_descent_converges_to_two(seed):
    result = stochastic_gradient_descent(w=1.0, lr=0.01, epochs=100, seed=seed)
    assert result.w == pytest.approx(2.0, abs=0.01)
    assert result.predict(4.0) == pytest.approx(8.0, abs=0.04)


def test_stochastic_gradient_descent_is_repeatable():
    first = stochastic_gradient_descent(lr=0.02, epochs=5, seed=3)
    second = stochastic_gradient_descent(lr=0.02, epochs=5, seed=3)
    assert first.costs == second.costs


def test_ewma_small_hand_example():
    # s0 = 1; s1 = 0.5 * 1 + 0.5 * 2 = 1.5; s2 = 0.5 * 1.5 + 0.5 * 3 = 2.25
    assert ewma([1.0, 2.0, 3.0], beta=0.5) == pytest.approx([1.0, 1.5, 2.25])
    # s1 = 0.9 * 10 + 0.1 * 0 = 9; s2 = 0.9 * 9 + 0.1 * 0 = 8.1
    assert ewma([10.0, 0.0, 0.0], beta=0.9) == pytest.approx([10.0, 9.0, 8.1])
    assert ewma([4.0, 1.0, 7.0], beta=0.0) == [4.0, 1.0, 7.0]
    assert ewma([]) == []


@pytest.mark.parametrize("beta", [-0.1, 1.0])
def test_ewma_rejects_beta_outside_unit_interval(beta):
    with pytest.raises(ValueError):
        ewma([1.0], beta=beta)


def test_lr_sweep_marks_large_rate_divergent_and_small_rate_convergent():
    runs = {run.lr: run for run in learning_rate_sweep([0.01, 0.3], epochs=50)}
    assert not runs[0.01].diverged
    assert runs[0.01].costs[-1] < runs[0.01].costs[0]
    assert runs[0.3].diverged
    assert runs[0.3].costs[-1] > 1e6


def test_lr_sweep_boundary_is_the_critical_rate():
    below, above = learning_rate_sweep([0.95 * CRITICAL_LR, 1.05 * CRITICAL_LR], epochs=50)
    assert not below.diverged
    assert above.diverged


def test_overflowing_run_stops_early_and_counts_as_divergent():
    (run,) = learning_rate_sweep([1e6], epochs=50)
    assert run.diverged
    assert len(run.costs) < 51
    assert all(math.isfinite(c) for c in run.costs)


def test_has_diverged():
    assert has_diverged([1.0, 2.0, 4.0], epochs=2)
    assert not has_diverged([4.0, 2.0, 1.0], epochs=2)
    assert has_diverged([4.0], epochs=2)  # stopped after the start: overflowed at once
