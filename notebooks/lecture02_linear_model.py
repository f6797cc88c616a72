# %% [markdown]
# # 第2讲 线性模型 · Lecture 2: The linear model
#
# 本讲用最简单的模型 ŷ = x·w 拟合三个点。
# 先讲清楚训练集、开发集和测试集各自的用途，以及为什么只看训练误差会被过拟合蒙蔽；
# 然后不用任何微积分，把 w 在网格上逐个试一遍，画出均方误差（MSE）随 w 变化的曲线。
#
# The lecture fits the simplest model, ŷ = x·w, to three points. It first sets out what the
# training, development and test sets are for, and why the training error alone is fooled by
# over-fitting; then, with no calculus at all, it tries every w on a grid and plots the mean
# squared error (MSE) against w.

# %%
import matplotlib.pyplot as plt
import numpy as np
from numpy.polynomial import Polynomial

from zoo.course import X_DATA, Y_DATA, exhaustive_search, mse

# %% [markdown]
# ## 1. 训练集、开发集与过拟合 · Training set, development set and over-fitting
#
# 模型只能从训练集学习，而我们真正关心的是它在没见过的数据上的表现；
# 测试集的标签在训练时拿不到。
# 所以课上建议从训练数据里再切出一份开发集（development set，也叫验证集），
# 用它估计泛化误差、挑选模型。
# 下面从 y = 2x 加上噪声采 21 个点，按 x 排序后隔一个取一个作开发集，
# 再用 1 到 10 次多项式拟合其余 11 个训练点。
#
# A model can only learn from the training set, yet what matters is how it does on data it has
# not seen, and the labels of the test set are not available while training. So the course
# splits a development set (also called a validation set) off the training data, to estimate
# the generalisation error and to choose between models. Below, 21 points are drawn from
# y = 2x plus noise; in order of x, every other one goes to the development set, and
# polynomials of degree 1 to 10 are fitted to the other 11, the training points.

# %%
rng = np.random.default_rng(2)
x = np.sort(rng.uniform(0.0, 4.0, size=21))
y = 2.0 * x + rng.normal(0.0, 1.0, size=21)
# Every other point (in order of x) is held out, so each development point lies between two
# training points: the test is interpolation, not extrapolation beyond the data.
train, dev = np.arange(0, 21, 2), np.arange(1, 21, 2)

degrees = range(1, 11)
fits, train_mse, dev_mse = {}, [], []
for degree in degrees:
    # Polynomial.fit rescales x to [-1, 1] first, which keeps degree 10 numerically sane.
    fits[degree] = Polynomial.fit(x[train], y[train], degree)
    train_mse.append(np.mean((fits[degree](x[train]) - y[train]) ** 2))
    dev_mse.append(np.mean((fits[degree](x[dev]) - y[dev]) ** 2))

best_degree = degrees[int(np.argmin(dev_mse))]
print(f"{len(train)} training points, {len(dev)} development points")
print("degree  train MSE   dev MSE")
for degree, tr, de in zip(degrees, train_mse, dev_mse, strict=True):
    print(f"{degree:6d}  {tr:9.4f}  {de:9.2f}")
print(f"lowest development error: degree {best_degree}")
print(f"highest development error: degree {degrees[int(np.argmax(dev_mse))]}")
# The text below relies on these; a change of data or seed that breaks one fails the notebook.
assert np.all(np.diff(train_mse) <= 1e-9)
assert train_mse[-1] < 1e-9 and int(np.argmax(dev_mse)) == len(dev_mse) - 1

# %%
grid = np.linspace(0.0, 4.0, 400)
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
left.scatter(x[train], y[train], label="training points", color="tab:blue")
left.scatter(x[dev], y[dev], label="development points", color="tab:orange", marker="s")
for degree in sorted({1, best_degree, 10}):
    left.plot(grid, fits[degree](grid), label=f"degree {degree}")
left.set_ylim(y.min() - 3, y.max() + 3)
left.set(title="Polynomial fits to the 11 training points", xlabel="x", ylabel="y")
left.legend(fontsize="small")
# Degree 10 fits its training points exactly (error ~0): drawn at the axis floor instead.
floor = 1e-3
right.semilogy(degrees, np.maximum(train_mse, floor), marker="o", label="training MSE")
right.semilogy(degrees, dev_mse, marker="s", label="development MSE")
right.annotate(f"{train_mse[-1]:.0e}", (degrees[-1], floor), textcoords="offset points",
               xytext=(-40, 8), fontsize="small")  # fmt: skip
right.set_ylim(bottom=floor / 2)
right.set(title="Error against model complexity", xlabel="polynomial degree", ylabel="MSE")
right.legend()
plt.show()

# %% [markdown]
# 训练误差随次数只降不升（次数高的多项式包含了次数低的），
# 10 次多项式有 11 个系数，恰好穿过全部 11 个训练点，训练误差几乎为 0；
# 可它在训练点之间剧烈摆动，开发误差反而最大。
# 它记住的是这 11 个点上的噪声，而不是 y = 2x 这条规律，这就是过拟合。
# 挑模型要看开发误差（上面打印出的最优次数），测试集只在最后用一次。
#
# The training error can only fall as the degree grows (a higher-degree polynomial contains the
# lower ones), and the degree-10 polynomial, with 11 coefficients, passes through all 11
# training points: its training error is almost zero. Yet it swings wildly between them and has
# the largest development error. It has memorised the noise of these 11 points instead of the rule
# y = 2x: that is over-fitting. Choose the model by its development error (the best degree is
# printed above) and keep the test set for one final check.

# %% [markdown]
# ## 2. 穷举搜索 w · Exhaustive search over w
#
# 回到课上的数据 x = 1, 2, 3，y = 2, 4, 6 和模型 ŷ = x·w。
# 每个样本的损失是 (ŷ − y)²，对全部 N 个样本求平均得到 MSE。
# 我们假装不知道答案，把 w 从 0 到 4 每隔 0.1 试一次，留下 MSE 最小的那个。
#
# Back to the course's data, x = 1, 2, 3 and y = 2, 4, 6, and the model ŷ = x·w. One sample's
# loss is (ŷ − y)², and the MSE is its mean over all N samples. Pretending not to know the
# answer, we try w from 0 to 4 in steps of 0.1 and keep the one with the smallest MSE.

# %%
print("x:", X_DATA, " y:", Y_DATA)
result = exhaustive_search(start=0.0, stop=4.0, step=0.1)
for w, value in zip(result.weights[::5], result.mses[::5], strict=True):
    print(f"w = {w:3.1f}  MSE = {value:7.4f}")
print(f"best: w = {result.best_w:g}, MSE = {result.best_mse:g}; prediction for x = 4: "
      f"{result.predict(4.0):g}")  # fmt: skip

# %%
fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
ax.plot(result.weights, result.mses, marker=".", label="MSE(w)")
ax.axvline(result.best_w, color="tab:red", linestyle="--", label=f"best w = {result.best_w:g}")
ax.set(title="Exhaustive search for y = w * x", xlabel="w", ylabel="MSE")
ax.legend()
plt.show()

# %% [markdown]
# 曲线是一只碗：离 w = 2 越远，误差按平方增长，碗底就是最优解。
# 第 3 讲的梯度下降正是沿着这只碗的坡往下走，而不必把每个 w 都试一遍。
#
# The curve is a bowl: the error grows with the square of the distance from w = 2, and the
# bottom of the bowl is the answer. Lecture 3's gradient descent walks down the slope of this
# bowl instead of trying every w.

# %% [markdown]
# ## 3. 课后练习：ŷ = x·w + b 的代价曲面 · Exercise: the cost surface of ŷ = x·w + b
#
# 加上偏置 b 后要在 (w, b) 平面上穷举。
# 因为 x·w + b − y = x·w − (y − b)，给定 b 时可以直接复用 `mse`，只需把目标换成 y − b。
#
# With a bias b the search runs over the (w, b) plane. Because x·w + b − y = x·w − (y − b),
# zoo's `mse` still applies for a fixed b, with the targets shifted to y − b.

# %%
ws = np.linspace(0.0, 4.0, 41)
bs = np.linspace(-2.0, 2.0, 41)
cost = np.array([[mse(w, X_DATA, [t - b for t in Y_DATA]) for w in ws] for b in bs])
i, j = np.unravel_index(np.argmin(cost), cost.shape)
print(f"best on the grid: w = {ws[j]:.1f}, b = {bs[i]:.1f}, MSE = {cost[i, j]:.3g}")

W, B = np.meshgrid(ws, bs)
fig = plt.figure(figsize=(11, 4.2), layout="constrained")
surface = fig.add_subplot(1, 2, 1, projection="3d")
surface.plot_surface(W, B, cost, cmap="viridis", linewidth=0)
surface.set(title="MSE(w, b)", xlabel="w", ylabel="b", zlabel="MSE")
contour = fig.add_subplot(1, 2, 2)
levels = contour.contour(W, B, cost, levels=np.geomspace(0.05, cost.max(), 12), cmap="viridis")
contour.clabel(levels, fontsize="x-small", fmt="%.2g")
contour.plot(ws[j], bs[i], "r*", markersize=12, label="grid minimum")
contour.set(title="Contours of MSE(w, b)", xlabel="w", ylabel="b")
contour.legend()
plt.show()

# %% [markdown]
# 等高线是一道又长又窄的斜谷：把 w 调大一点、b 调小一点，误差几乎不变。
# 两个参数还能画出来、穷举得完；参数一多，网格的点数按指数增长，这就是第 3 讲要解决的问题。
#
# The contours form a long, narrow, tilted valley: raise w a little and lower b a little and
# the error hardly changes. Two parameters can still be drawn and searched exhaustively; with
# more, the number of grid points grows exponentially, which is the problem lecture 3 solves.

# %% [markdown]
# ## 在 zoo 里 · In zoo
#
# - `zoo.course.exhaustive_search`、`zoo.course.mse`、`zoo.course.weight_grid`：
#   上面第 2 节的穷举搜索。
#   The exhaustive search of section 2.
# - `zoo course lecture2`：在命令行运行同一搜索，并把 MSE–w 图写到 `runs/course/`。
#   Runs the same search from the command line and writes the MSE–w plot to `runs/course/`.
# - `zoo.MNISTDataModule(val_size=5000)`：zoo 的图像数据都从官方训练集切出一份验证集（开发集），
#   训练时记录为 `val/acc`，测试集留到最后。
#   Every image DataModule in zoo splits a validation (development) set off the official
#   training split, logged as `val/acc`; the test split is kept for the end.
