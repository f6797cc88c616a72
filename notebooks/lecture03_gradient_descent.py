# %% [markdown]
# # 第3讲 梯度下降 · Lecture 3: Gradient descent
#
# 穷举和分治搜索都会在参数一多时失效，还可能错过真正的最优点，
# 所以本讲改为沿着代价函数的梯度往下走：w ← w − α·∂cost/∂w。
# 学习率 α 太小走得慢，太大会发散；非凸函数里还有局部极小点和梯度为 0 的鞍点，
# 随机梯度下降（SGD）的噪声能带它越过鞍点，而小批量（mini-batch）在速度和效果之间折中。
#
# Exhaustive and divide-and-conquer search break down once there are many parameters, and can
# miss the true optimum, so this lecture follows the gradient of the cost downhill instead:
# w ← w − α·∂cost/∂w. Too small a learning rate α crawls and too large a one diverges; a
# non-convex cost also has local minima and saddle points where the gradient is 0, stochastic
# gradient descent (SGD) has noise that carries it past a saddle, and mini-batches are the
# compromise between speed and quality.

# %%
import statistics
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from zoo.course import (
    X_DATA,
    Y_DATA,
    batch_gradient_descent,
    cost,
    ewma,
    learning_rate_sweep,
    stochastic_gradient_descent,
)

# %% [markdown]
# ## 1. 为什么搜索不够用 · Why searching is not enough
#
# 网格搜索的代价按参数个数指数增长：每个参数取 100 个值，d 个参数就要算 100^d 次代价。
# 分治法先用粗网格找到最好的格子，再在它附近细分，省了计算，
# 却可能一开始就挑错了区域：下面的代价函数在 w ≈ 1 有一个宽而浅的局部极小点，
# 在 w ≈ 3.2 有一个窄而深的全局极小点，粗网格根本没踩到后者。
#
# The cost of a grid search grows exponentially with the number of parameters: with 100 values
# for each of d parameters it takes 100^d evaluations. Divide and conquer searches a coarse grid
# first and then refines around its best cell; that saves work but can pick the wrong region at
# the start. The cost below has a broad, shallow local minimum near w ≈ 1 and a narrow, deep
# global one near w ≈ 3.2, which the coarse grid never lands on.

# %%
for d in (1, 2, 10):
    print(f"{d:2d} parameter(s), 100 values each: {100.0**d:.0e} evaluations")


def two_wells(w):
    """A broad, shallow well at w = 1 and a narrow, deep one at w = 3.2."""
    return 1.5 - np.exp(-((w - 1) ** 2) / 0.72) - 2 * np.exp(-((w - 3.2) ** 2) / 0.0128)


def divide_and_conquer(f, low, high, points=5, rounds=6):
    """Evaluate `points` values, keep the best, shrink the interval around it; repeat."""
    tried = []
    for _ in range(rounds):
        ws = np.linspace(low, high, points)
        best = ws[np.argmin(f(ws))]
        tried.append(ws)
        step = (high - low) / (points - 1)
        low, high = best - step, best + step
    return best, tried


dc_w, tried = divide_and_conquer(two_wells, 0.0, 4.0)
dense = np.linspace(0.0, 4.0, 4001)
dense_w = dense[np.argmin(two_wells(dense))]
print(f"divide and conquer, {sum(map(len, tried))} evaluations: w = {dc_w:.3f}, "
      f"cost = {two_wells(dc_w):.3f}")  # fmt: skip
print(f"dense grid, {len(dense)} evaluations: w = {dense_w:.3f}, cost = {two_wells(dense_w):.3f}")

fig, ax = plt.subplots(figsize=(7, 3.8), layout="constrained")
ax.plot(dense, two_wells(dense), color="grey", label="cost(w)")
for k, ws in enumerate(tried):
    ax.scatter(ws, two_wells(ws), s=20, color=plt.cm.viridis(k / len(tried)), label=f"round {k}")
ax.axvline(dense_w, color="tab:red", linestyle="--", label="true minimum")
ax.set(title="Divide and conquer settles in the wrong well", xlabel="w", ylabel="cost")
ax.legend(fontsize="small", ncol=2)
plt.show()

# %% [markdown]
# ## 2. 梯度下降与学习率 · Gradient descent and the learning rate
#
# 回到课上的 ŷ = x·w 和三个点。代价 cost(w) = (1/N)·Σ(x·w − y)² 的梯度是
# (1/N)·Σ 2x(x·w − y)，每个 epoch 更新一次 w ← w − α·梯度（`batch_gradient_descent`）。
# 这个代价是抛物线，曲率为 2·mean(x²)，学习率超过 2/曲率 时每一步都会越过碗底、越跳越远。
# 下面从 w = 1 出发，比较太小、合适、太大三个学习率。
#
# Back to the course's ŷ = x·w and its three points. The gradient of
# cost(w) = (1/N)·Σ(x·w − y)² is (1/N)·Σ 2x(x·w − y), and every epoch updates
# w ← w − α·gradient (`batch_gradient_descent`). This cost is a parabola with curvature
# 2·mean(x²); a learning rate above 2/curvature overshoots the bottom of the bowl by more at
# every step. Below, three learning rates start from w = 1: too small, about right, too large.

# %%
curvature = 2 * statistics.fmean(x * x for x in X_DATA)
print(f"curvature = {curvature:.3f}, so rates above 2 / curvature = {2 / curvature:.3f} diverge")
rates = {"too small": 0.01, "about right": 0.1, "too large": 0.25}
epochs = 20
runs = learning_rate_sweep(lrs=tuple(rates.values()), epochs=epochs)
for (name, lr), run in zip(rates.items(), runs, strict=True):
    verdict = "DIVERGED" if run.diverged else "converging"
    print(f"{name:12s} lr = {lr:<5g} cost after {epochs} epochs = {run.costs[-1]:10.3g}  {verdict}")
small, good, large = runs
assert small.costs[-1] > 1e-3 and good.costs[-1] < 1e-12 and large.diverged  # as the text says


def trajectory(lr, steps, w=1.0):
    """The w after each of `steps` single-epoch runs of zoo's batch gradient descent."""
    ws = [w]
    for _ in range(steps):
        ws.append(batch_gradient_descent(w=ws[-1], lr=lr, epochs=1).w)
    return ws


fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
for (name, lr), run in zip(rates.items(), runs, strict=True):
    left.semilogy(run.costs, marker=".", label=f"lr = {lr:g} ({name})")
left.set(title="Cost per epoch, batch GD", xlabel="epoch", ylabel="cost (log scale)")
left.legend()
bowl = np.linspace(-1.0, 5.0, 200)
right.plot(bowl, [cost(X_DATA, Y_DATA, w) for w in bowl], color="grey")
for lr, marker in zip(rates.values(), "os^", strict=True):
    ws = trajectory(lr, steps=6)
    right.plot(ws, [cost(X_DATA, Y_DATA, w) for w in ws], marker=marker, label=f"lr = {lr:g}")
right.set(xlim=(-1, 5), ylim=(-2, 45))
right.set(title="The first 6 steps on cost(w)", xlabel="w", ylabel="cost")
right.legend()
plt.show()

# %% [markdown]
# lr = 0.01 每步只挪一小段，20 个 epoch 后还没到碗底；
# lr = 0.1 很快到底；lr = 0.25 大于临界值，每一步都跳到碗的另一边、而且更高，代价指数增长。
#
# At lr = 0.01 each step moves a little, and after 20 epochs it has not reached the bottom;
# lr = 0.1 gets there fast; lr = 0.25 is above the critical rate, so every step lands on the
# other side of the bowl and higher up, and the cost grows exponentially.

# %% [markdown]
# ## 3. 局部极小点和鞍点 · Local minima and saddle points
#
# 真实的代价函数不是一只碗。下面这条曲线的导数是 w²(w + 2)(w − 1)(w − 2)：
# w = −2 是全局极小点，w = 2 是局部极小点，w = 1 是极大点，
# 而 w = 0 是鞍点，梯度为 0 但两边都还能往下走。
# 把它写成 20 个"样本"损失的平均，每个样本多一项斜率 cᵢ（cᵢ 的平均为 0），
# 于是单个样本的梯度 = 真梯度 + 噪声，这正是 SGD 看到的东西。
#
# Real costs are not bowls. The curve below has the derivative w²(w + 2)(w − 1)(w − 2): w = −2
# is the global minimum, w = 2 a local minimum, w = 1 a maximum, and w = 0 a saddle point,
# where the gradient is 0 although the cost still falls further on. It is written as the mean of
# 20 "sample" losses, each with an extra slope cᵢ (the cᵢ average to 0), so one sample's
# gradient is the true gradient plus noise, which is what SGD sees.


# %%
def curve(w):
    """The non-convex cost: its derivative is w²(w + 2)(w − 1)(w − 2)."""
    return w**6 / 6 - w**5 / 5 - w**4 + 4 * w**3 / 3


def curve_gradient(w):
    return w**2 * (w + 2) * (w - 1) * (w - 2)


rng = np.random.default_rng(0)
slopes = rng.normal(0.0, 3.0, size=20)
slopes -= slopes.mean()  # the sample losses average exactly to `curve`
lr, epochs = 0.02, 100


def descend(w, stochastic):
    """Full-gradient descent, or SGD over the 20 shifted samples in a shuffled order."""
    path = [w]
    for _ in range(epochs):
        for i in rng.permutation(len(slopes)):
            noise = slopes[i] if stochastic else 0.0
            w -= lr * (curve_gradient(w) + noise)
            path.append(w)
    return np.array(path)


paths = {
    "GD from 0.8": descend(0.8, stochastic=False),
    "SGD from 0.8": descend(0.8, stochastic=True),
    "GD from 1.5": descend(1.5, stochastic=False),
    "SGD from 1.5": descend(1.5, stochastic=True),
}
for name, path in paths.items():
    print(f"{name:13s} ends at w = {path[-1]:7.3f}, gradient there {curve_gradient(path[-1]):9.2e}")
# The text below relies on these outcomes; a change of seed that breaks one fails the notebook.
assert 0 < paths["GD from 0.8"][-1] < 0.05 and abs(paths["SGD from 0.8"][-1] + 2) < 0.3
assert abs(paths["GD from 1.5"][-1] - 2) < 0.01 and abs(paths["SGD from 1.5"][-1] - 2) < 0.3

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
ws = np.linspace(-2.6, 2.6, 400)
left.plot(ws, curve(ws), color="grey")
for w, name in ((-2, "global minimum"), (0, "saddle point"), (1, "maximum"), (2, "local minimum")):
    left.plot(w, curve(w), "o", markersize=8, label=f"{name} (w = {w})")
left.set_ylim(-11, 6)
left.set(title="A non-convex cost", xlabel="w", ylabel="cost")
left.legend(fontsize="small")
for name, path in paths.items():
    # GD drawn thick and on top: from 1.5 it would otherwise hide under SGD's noisy line.
    gd = name.startswith("GD")
    right.plot(path, label=name, linestyle="--" if gd else "-", linewidth=2.5 if gd else 1,
               zorder=3 if gd else 2)  # fmt: skip
right.set(title=f"w during {epochs} epochs (lr = {lr:g})", xlabel="update", ylabel="w")
right.legend(fontsize="small")
plt.show()

# %% [markdown]
# 从 0.8 出发的 GD 越走越慢，最后停在鞍点旁边：那里的梯度几乎为 0，它以为已经到底了。
# 同一起点的 SGD 被噪声推过了鞍点，一路滑到全局极小点 −2。
# 从 1.5 出发时两者都落进局部极小点 2，这点噪声翻不过那座山。
# 课上说，深度网络里更常见的麻烦是鞍点而不是局部极小点，这正是 SGD 有用的地方。
#
# GD from 0.8 slows down and stops next to the saddle point: the gradient there is almost 0, so
# it looks like the bottom. SGD from the same start is pushed past the saddle by its noise and
# slides all the way down to the global minimum at −2. From 1.5 both end in the local minimum
# at 2: this much noise cannot climb that hill. As the course says, saddle points rather than
# local minima are the usual trouble in deep networks, and that is where SGD helps.

# %% [markdown]
# ## 4. 小批量：速度与效果的折中 · Mini-batches: the compromise
#
# 先在课上的三个点上比较 zoo 的两个函数：同样 100 个 epoch，
# SGD 每个样本更新一次（一个 epoch 3 次），所以离 w = 2 更近。
#
# First, zoo's two functions on the course's three points: in the same 100 epochs SGD, which
# updates after every sample (3 times an epoch), ends closer to w = 2.

# %%
full = batch_gradient_descent(lr=0.01, epochs=100)
sgd = stochastic_gradient_descent(lr=0.01, epochs=100)
print(f"batch GD: w = {full.w:.4f}, cost = {full.costs[-1]:.2e}")
print(f"SGD:      w = {sgd.w:.4f}, cost = {sgd.costs[-1]:.2e}")
assert sgd.costs[-1] < full.costs[-1]

# %% [markdown]
# 但 SGD 的每一步都依赖上一步的 w，没法并行；整批梯度可以一次算完（向量化），
# 每个 epoch 快得多，却一个 epoch 只更新一次。
# 下面在 1024 个带噪声的点上实测：batch 大小取 1、32 和全部，
# 同样的学习率、同样 5 个 epoch，记录每个 epoch 的耗时和最终代价。
#
# But each SGD step needs the w of the step before, so it cannot run in parallel; the whole
# batch's gradient is computed at once (vectorised), which makes an epoch much faster but gives
# only one update per epoch. Below, on 1024 noisy points, batches of 1, 32 and all the samples
# run with the same learning rate for the same 5 epochs; the time per epoch and the final cost
# are measured.

# %%
torch.manual_seed(0)
n = 1024
xs = 1 + 2 * torch.rand(n)
ys = 2 * xs + 0.5 * torch.randn(n)  # the best possible cost is the noise variance, about 0.25


def minibatch_descent(batch_size, lr=0.01, epochs=5, w=1.0):
    """ŷ = x·w with the lecture's hand-derived gradient, on shuffled mini-batches."""
    w = torch.tensor(w)
    shuffle = torch.Generator().manual_seed(0)
    epoch_times, costs, step_costs = [], [((xs * w - ys) ** 2).mean().item()], []
    for _ in range(epochs):
        order = torch.randperm(n, generator=shuffle)
        start = time.perf_counter()
        for first in range(0, n, batch_size):
            batch = order[first : first + batch_size]
            error = xs[batch] * w - ys[batch]
            step_costs.append((error * error).mean())
            w = w - lr * (2 * xs[batch] * error).mean()
        epoch_times.append(time.perf_counter() - start)
        costs.append(((xs * w - ys) ** 2).mean().item())  # evaluation, not timed
    return epoch_times, costs, torch.stack(step_costs)


results = {size: minibatch_descent(size) for size in (1, 32, n)}
print("batch size  updates/epoch  ms/epoch (median)  cost after 5 epochs")
for size, (epoch_times, costs, _) in results.items():
    ms = 1000 * statistics.median(epoch_times)
    print(f"{size:10d}  {n // size:13d}  {ms:17.2f}  {costs[-1]:19.4f}")
median_ms = {size: 1000 * statistics.median(r[0]) for size, r in results.items()}
print(f"an epoch of batch 32 is {median_ms[1] / median_ms[32]:.0f}x faster than batch 1's, "
      f"{median_ms[32] / median_ms[n]:.0f}x slower than the whole batch's")  # fmt: skip
final = {size: r[1][-1] for size, r in results.items()}
# The costs are seeded, so the text's claims about them are checked (the times vary by machine).
assert final[32] <= final[1] < 0.3 and final[n] > 4 * final[32]

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
for size, (epoch_times, costs, _) in results.items():
    left.semilogy(costs, marker="o", label=f"batch size {size}")
    elapsed = np.cumsum([0.0, *epoch_times]) * 1000
    right.loglog(elapsed[1:], costs[1:], marker="o", label=f"batch size {size}")
left.set(title="Cost per epoch", xlabel="epoch", ylabel="cost (log scale)")
right.set(title="Cost against training time", xlabel="ms (log scale)", ylabel="cost (log scale)")
for ax in (left, right):
    ax.legend()
plt.show()

# %% [markdown]
# 一次一个样本的 SGD 每个 epoch 最慢（一个个地算，无法向量化），最终代价也带着噪声；
# 整批梯度每个 epoch 最快，可 5 次更新远远不够，代价还很高；
# batch 32 一个 epoch 有 32 次更新，每次向量化地处理 32 个样本，
# 所以一个 epoch 比 SGD 快很多倍（倍数见上面的输出，随机器而变），代价却和 SGD 一样低，甚至更稳。
# 这就是小批量的折中，也是后面各讲 DataLoader 里 `batch_size` 的来历。
# （这个一维问题的一个 epoch 太便宜，多跑几十个 epoch 的整批 GD 也能赶上；
# 数据一大、一个 epoch 要算几分钟时，折中才真正值钱。）
#
# SGD on one sample at a time has the slowest epochs (one sample after another, nothing to
# vectorise) and a final cost that carries its noise; the whole batch has the fastest epochs but
# 5 updates are far too few and its cost is still high; batch 32 makes 32 updates an epoch, each
# vectorised over 32 samples, so its epochs are many times faster than SGD's (the factor printed
# above depends on the machine), and it reaches a cost as low as SGD's, and steadier. That is
# the compromise, and where the `batch_size` of the later lectures' DataLoader
# comes from. (An epoch of this one-parameter problem is so cheap that whole-batch GD run for a
# few dozen epochs catches up; the compromise pays once the data are large and an epoch takes
# minutes.)

# %% [markdown]
# ## 5. 用指数加权平均看清趋势 · Reading the trend with an EWMA
#
# 每一步的小批量代价噪声很大。课上用指数加权移动平均平滑它：
# sᵢ = β·sᵢ₋₁ + (1 − β)·vᵢ，大约是最近 1/(1 − β) 个值的平均。
# zoo 的 `ewma` 从第一个值开始（s₀ = v₀）而不是从 0 开始，曲线开头不会被拖低。
# β 越大越平滑，但也越滞后。
#
# The cost of each mini-batch step is noisy. The course smooths it with an exponentially
# weighted moving average, sᵢ = β·sᵢ₋₁ + (1 − β)·vᵢ, roughly the mean of the last 1/(1 − β)
# values. zoo's `ewma` starts from the first value (s₀ = v₀) rather than from 0, so the start of
# the curve is not dragged down. A larger β smooths more but lags more.

# %%
step_costs = results[32][2].tolist()  # every update of the batch-32 run above
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
ax.plot(step_costs, alpha=0.35, color="tab:blue", label="raw cost of each batch of 32")
for beta, color in ((0.9, "tab:orange"), (0.98, "tab:red")):
    ax.plot(ewma(step_costs, beta), color=color, linewidth=2, label=f"EWMA β = {beta:g}")
ax.set_yscale("log")
ax.set(title="Batch-32 costs over 5 epochs", xlabel="update", ylabel="cost (log scale)")
ax.legend()
plt.show()

# %% [markdown]
# ## 在 zoo 里 · In zoo
#
# - `zoo.course.batch_gradient_descent`、`zoo.course.stochastic_gradient_descent`、
#   `zoo.course.learning_rate_sweep`、`zoo.course.ewma`：本讲的梯度下降、SGD、学习率扫描和平滑。
#   Gradient descent, SGD, the learning-rate sweep and the smoothing of this lecture.
# - `zoo course lecture3 --lr 0.01 --epochs 100`：在命令行跑 GD 和 SGD、扫描学习率，
#   图写到 `runs/course/`。
#   Runs GD, SGD and the sweep from the command line and writes the plots to `runs/course/`.
# - 后面每个模型的小批量训练：`zoo.MNISTDataModule(batch_size=64)`，
#   优化器由 `lr`、`momentum` 等超参数决定（`zoo.ZooModule`）。
#   The mini-batch training of every later model: `zoo.MNISTDataModule(batch_size=64)`, with
#   the optimizer set by hyperparameters such as `lr` and `momentum` (`zoo.ZooModule`).
