"""Lecture 4 (反向传播): autograd gradients against hand-derived ones, and training."""

import pytest

from zoo.course import (
    X_DATA,
    Y_DATA,
    autograd_gradient,
    hand_gradient,
    quadratic_autograd_gradients,
    quadratic_hand_gradients,
    stochastic_gradient_descent,
    train_linear,
    train_quadratic,
)

SAMPLES = list(zip(X_DATA, Y_DATA, strict=True))


@pytest.mark.parametrize("w", [-1.5, 0.0, 0.5, 1.0, 2.0, 3.75])
@pytest.mark.parametrize(("x", "y"), SAMPLES)
def test_autograd_gradient_equals_hand_gradient(x, y, w):
    assert autograd_gradient(x, y, w) == pytest.approx(hand_gradient(x, y, w), rel=1e-5, abs=1e-5)


def test_hand_gradient_by_hand():
    # x = 2, y = 4, w = 1: 2 * 2 * (2 - 4) = -8
    assert hand_gradient(2.0, 4.0, 1.0) == -8.0
    assert autograd_gradient(2.0, 4.0, 1.0) == pytest.approx(-8.0)


@pytest.mark.parametrize(
    ("w1", "w2", "b"), [(1.0, 1.0, 1.0), (0.0, 2.0, 0.0), (-0.5, 0.25, 3.0), (2.0, -1.0, -0.5)]
)
@pytest.mark.parametrize(("x", "y"), SAMPLES)
def test_quadratic_autograd_gradients_equal_hand_gradients(x, y, w1, w2, b):
    auto = quadratic_autograd_gradients(x, y, w1, w2, b)
    hand = quadratic_hand_gradients(x, y, w1, w2, b)
    assert auto == pytest.approx(hand, rel=1e-5, abs=1e-5)


def test_quadratic_hand_gradients_by_hand():
    # x = 3, y = 6, all ones: y_hat = 9 + 3 + 1 = 13, r = 7 -> (2*7*9, 2*7*3, 2*7)
    assert quadratic_hand_gradients(3.0, 6.0, 1.0, 1.0, 1.0) == (126.0, 42.0, 14.0)


def test_train_linear_converges_to_two():
    fit = train_linear(w=1.0, lr=0.01, epochs=100)
    assert fit.w == pytest.approx(2.0, abs=0.01)
    assert fit.predict(4.0) == pytest.approx(8.0, abs=0.01)
    assert len(fit.losses) == 100
    assert fit.losses[-1] < fit.losses[0]


def test_train_linear_is_lecture3_sgd_with_autograd():
    # Same in-order updates as lecture 3's SGD; only the gradient's source differs.
    for epochs in (1, 3, 10):
        by_autograd = train_linear(lr=0.01, epochs=epochs).w
        by_hand = stochastic_gradient_descent(lr=0.01, epochs=epochs).w
        assert by_autograd == pytest.approx(by_hand, rel=1e-5)


def test_train_quadratic_fits_the_data():
    fit = train_quadratic(epochs=100)
    assert fit.losses[-1] < fit.losses[0] / 100
    # The data lie on y = 2x; the course's 100 epochs get close to 8, not all the way.
    assert 7.5 < fit.predict(4.0) < 9.0
    for x, y in SAMPLES:
        assert fit.predict(x) == pytest.approx(y, abs=0.5)


def test_train_quadratic_keeps_improving_with_more_epochs():
    short = train_quadratic(epochs=100)
    long = train_quadratic(epochs=600)
    assert long.losses[-1] < short.losses[-1]
    assert abs(long.predict(4.0) - 8.0) < abs(short.predict(4.0) - 8.0)
