"""Command line for the course companion: ``zoo course lecture2|lecture3|lecture4``.

Each subcommand runs one lecture on the course data (x = 1, 2, 3; y = 2, 4, 6), prints
the learned parameters and the prediction for x = 4, and writes its plots as PNG files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from zoo.course import lecture2, lecture3, lecture4, plots

QUERY_X = 4.0


def _print_prediction(name: str, y_hat: float) -> None:
    print(f"  {name}: prediction for x = {QUERY_X:g}: y = {y_hat:.4f}")


def _print_plots(paths: list[Path]) -> None:
    print("plots written:")
    for path in paths:
        print(f"  {path}")


def run_lecture2(out: Path) -> list[Path]:
    """Lecture 2: exhaustive search for ``w``; returns the plots written."""
    result = lecture2.exhaustive_search()
    print("lecture 2 - linear model y = w * x, exhaustive search over w in [0, 4] step 0.1")
    print(f"  best w = {result.best_w:.4f}  MSE = {result.best_mse:.6f}")
    _print_prediction("exhaustive search", result.predict(QUERY_X))
    return [
        plots.plot_mse_vs_w(
            result.weights, result.mses, result.best_w, out / "lecture2_mse_vs_w.png"
        )
    ]


def run_lecture3(out: Path, lr: float, epochs: int) -> list[Path]:
    """Lecture 3: batch GD, SGD and a learning-rate sweep; returns the plots written."""
    batch = lecture3.batch_gradient_descent(lr=lr, epochs=epochs)
    sgd = lecture3.stochastic_gradient_descent(lr=lr, epochs=epochs)
    print(f"lecture 3 - gradient descent on y = w * x, lr = {lr:g}, {epochs} epochs, w0 = 1")
    for name, result in (("batch GD", batch), ("SGD", sgd)):
        print(f"  {name}: w = {result.w:.4f}  cost = {result.costs[-1]:.3g}")
        _print_prediction(name, result.predict(QUERY_X))
    runs = lecture3.learning_rate_sweep()
    verdicts = ", ".join(f"{r.lr:g} {'DIVERGED' if r.diverged else 'ok'}" for r in runs)
    print(f"  learning-rate sweep (batch GD): {verdicts}")
    return [
        plots.plot_cost_curves(
            {"batch GD": batch.costs, "SGD": sgd.costs},
            out / "lecture3_cost.png",
            title=f"Lecture 3: cost per epoch (lr = {lr:g})",
        ),
        plots.plot_lr_sweep(runs, out / "lecture3_lr_sweep.png"),
    ]


def run_lecture4(out: Path, lr: float, epochs: int) -> list[Path]:
    """Lecture 4: autograd fits of the linear and quadratic models; returns the plots."""
    linear = lecture4.train_linear(lr=lr, epochs=epochs)
    quadratic = lecture4.train_quadratic(lr=lr, epochs=epochs)
    print(f"lecture 4 - back propagation with autograd, lr = {lr:g}, {epochs} epochs")
    print(f"  y = w * x: w = {linear.w:.4f}")
    _print_prediction("linear", linear.predict(QUERY_X))
    print(
        f"  y = w1 * x^2 + w2 * x + b: w1 = {quadratic.w1:.4f}  w2 = {quadratic.w2:.4f}"
        f"  b = {quadratic.b:.4f}"
    )
    _print_prediction("quadratic", quadratic.predict(QUERY_X))
    return [
        plots.plot_cost_curves(
            {"y = w*x": linear.losses, "y = w1*x^2 + w2*x + b": quadratic.losses},
            out / "lecture4_loss.png",
            title=f"Lecture 4: mean sample loss per epoch (lr = {lr:g})",
            ylabel="loss",
        )
    ]


def build_parser() -> argparse.ArgumentParser:
    """The ``zoo course`` argument parser with one subcommand per lecture."""
    parser = argparse.ArgumentParser(
        prog="zoo course",
        description="Run lectures 2-4 of PyTorch深度学习实践 and write their plots.",
    )
    commands = parser.add_subparsers(dest="lecture", required=True, metavar="LECTURE")
    descriptions = {
        "lecture2": "linear model: exhaustive search over w (线性模型)",
        "lecture3": "batch and stochastic gradient descent, learning-rate sweep (梯度下降算法)",
        "lecture4": "back propagation with autograd, linear and quadratic model (反向传播)",
    }
    for name, help_text in descriptions.items():
        command = commands.add_parser(name, help=help_text, description=help_text)
        command.add_argument(
            "--out", type=Path, default=Path("runs/course"), help="folder for the PNG plots"
        )
        if name != "lecture2":
            command.add_argument("--lr", type=float, default=0.01, help="learning rate")
            command.add_argument("--epochs", type=int, default=100, help="training epochs")
    return parser


def course_command(argv: list[str] | None = None) -> int:
    """Run the chosen lecture; returns the process exit code."""
    args = build_parser().parse_args(argv)
    if args.lecture == "lecture2":
        written = run_lecture2(args.out)
    elif args.lecture == "lecture3":
        written = run_lecture3(args.out, args.lr, args.epochs)
    else:
        written = run_lecture4(args.out, args.lr, args.epochs)
    _print_plots(written)
    return 0


if __name__ == "__main__":
    raise SystemExit(course_command())
