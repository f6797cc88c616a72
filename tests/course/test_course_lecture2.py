"""Lecture 2 (线性模型): exhaustive search over w."""

import pytest

from zoo.course import X_DATA, Y_DATA, exhaustive_search, mse, weight_grid


def test_weight_grid_holds_exact_values_and_both_ends():
    grid = weight_grid(0.0, 4.0, 0.1)
    assert len(grid) == 41
    assert grid[0] == 0.0
    assert grid[-1] == 4.0
    assert 2.0 in grid  # exact, not 2.0000000000000004


def test_weight_grid_rejects_non_positive_step():
    with pytest.raises(ValueError):
        weight_grid(0.0, 1.0, 0.0)


def test_mse_matches_hand_computation():
    # w = 1 predicts 1, 2, 3 for targets 2, 4, 6: squared errors 1, 4, 9.
    assert mse(1.0) == pytest.approx(14 / 3)
    assert mse(2.0) == 0.0


def test_exhaustive_search_finds_w_equal_two():
    result = exhaustive_search()
    assert result.best_w == 2.0
    assert result.best_mse == 0.0
    assert result.predict(4.0) == 8.0
    assert len(result.weights) == len(result.mses) == 41
    assert min(result.mses) == result.best_mse


def test_exhaustive_search_follows_the_data():
    ys = [3.0 * x for x in X_DATA]
    assert exhaustive_search(X_DATA, ys).best_w == 3.0
    assert exhaustive_search(X_DATA, Y_DATA, start=2.5, stop=4.0).best_w == 2.5
