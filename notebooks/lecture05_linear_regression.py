# %% [markdown]
# # 第5讲 用PyTorch实现线性回归 · Lecture 5: Linear regression with PyTorch
#
# 本讲把前几讲手写的东西换成 PyTorch 的标准写法，分四步：准备数据、用 `nn.Module` 设计模型、
# 构造损失函数和优化器、写训练循环（前向、反向、更新）。
# 模型还是 ŷ = w·x + b，但数据和输出都是 (N, 1) 的矩阵，`nn.Linear` 计算的是 x·Wᵀ + b。
#
# This lecture replaces what the earlier ones wrote by hand with PyTorch's standard pieces, in
# four steps: prepare the data, design the model as an `nn.Module`, construct the loss and the
# optimizer, and write the training cycle (forward, backward, update). The model is still
# ŷ = w·x + b, but data and outputs are (N, 1) matrices, and `nn.Linear` computes x·Wᵀ + b.

# %%
import copy
import inspect
import logging
import warnings

import lightning as L
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from zoo import LinearRegression, LinearToyDataModule
from zoo.training.quiet import quiet_known_noise
from zoo.training.recipes import instantiate_recipe, load_recipe

# %% [markdown]
# ## 1. 准备数据 · Step 1: prepare the data
#
# zoo 的 `LinearToyDataModule` 装的就是课上的三个点。
# x 和 y 都是 3 行 1 列：每一行是一个样本，每一列是一个特征，第一维永远是批量（mini-batch）维。
#
# zoo's `LinearToyDataModule` holds the course's three points. Both x and y have 3 rows and 1
# column: each row is one sample, each column one feature, and the first dimension is always the
# batch (mini-batch) dimension.

# %%
data = LinearToyDataModule()
x_data, y_data = data.x, data.y
print("x:", x_data.tolist(), "shape", tuple(x_data.shape))
print("y:", y_data.tolist(), "shape", tuple(y_data.shape))

# %% [markdown]
# 形状为什么要对齐？模型输出是 (3, 1)，如果目标写成了 (3,)，
# 两者相减会被广播成 (3, 3)，损失就悄悄算错了，PyTorch 只会给一条警告：
#
# Why must the shapes match? The model's output is (3, 1); if the targets were (3,), the
# difference would broadcast to (3, 3) and the loss would be silently wrong, with nothing but a
# warning from PyTorch:

# %%
prediction = 1.5 * x_data  # any (3, 1) prediction will do
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    wrong = F.mse_loss(prediction, y_data.view(-1))
right = F.mse_loss(prediction, y_data)
print(f"targets (3, 1): MSE = {right:.4f}; targets (3,): MSE = {wrong:.4f}")
print("PyTorch's warning:", caught[0].message)

# %% [markdown]
# ## 2. 用 `nn.Module` 设计模型 · Step 2: design the model as an `nn.Module`
#
# 模型类只需写两件事：`__init__` 里构造层，`forward` 里写数据怎么流过这些层；
# 反向传播由 autograd 自动完成。zoo 的 `LinearRegression` 就是这样写的：
#
# A model class needs only two things: the layers, built in `__init__`, and the flow of data
# through them, in `forward`; autograd does the backward pass. zoo's `LinearRegression` is written
# exactly so:

# %%
print(inspect.getsource(LinearRegression))
torch.manual_seed(0)  # the layer starts from random weights
model = LinearRegression()
print(model.linear, "weight", tuple(model.linear.weight.shape), "bias",
      tuple(model.linear.bias.shape))  # fmt: skip

# %% [markdown]
# `nn.Linear(in_features, out_features)` 的权重形状是 (out, in)，
# 所以它计算 y = x·Wᵀ + b：x 是 (N, in)，Wᵀ 是 (in, out)，结果是 (N, out)。
# 用一个 3 进 2 出的层看得更清楚，不转置的 x·W 形状根本对不上。
#
# The weight of `nn.Linear(in_features, out_features)` has shape (out, in), so the layer
# computes y = x·Wᵀ + b: x is (N, in), Wᵀ is (in, out), the result is (N, out). A layer with 3
# inputs and 2 outputs makes it plain; without the transpose, x·W does not even fit.

# %%
layer = nn.Linear(3, 2)
batch = torch.randn(4, 3)
by_hand = batch @ layer.weight.T + layer.bias
print("weight shape (out, in):", tuple(layer.weight.shape))
print("layer(x) equals x @ W.T + b:", torch.allclose(layer(batch), by_hand), tuple(by_hand.shape))
try:
    batch @ layer.weight
except RuntimeError as error:
    print("x @ W without the transpose:", error)

# %% [markdown]
# ## 3. 构造损失函数和优化器 · Step 3: construct the loss and the optimizer
#
# 课上用 `nn.MSELoss` 求和（旧写法 `size_average=False`，现在写 `reduction="sum"`）
# 和学习率 0.01 的 `torch.optim.SGD`。
# 优化器拿到的是 `model.parameters()`，也就是 w 和 b。
# zoo 的 `Regressor.loss` 用的是平均值；求和正好是 N 倍，方向相同，步子大 N 倍。
#
# The course uses `nn.MSELoss` summed over the samples (formerly `size_average=False`, now
# `reduction="sum"`) and `torch.optim.SGD` with learning rate 0.01. The optimizer is handed
# `model.parameters()`, that is w and b. zoo's `Regressor.loss` takes the mean instead; the sum is
# exactly N times larger, so it points the same way with an N times larger step.

# %%
criterion = nn.MSELoss(reduction="sum")
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
with torch.no_grad():
    output = model(x_data)
    print(f"summed MSE {criterion(output, y_data):.4f} = "
          f"{len(x_data)} x zoo's mean MSE {model.loss(output, y_data):.4f}")  # fmt: skip

# %% [markdown]
# ## 4. 训练循环 · Step 4: the training cycle
#
# 每个 epoch：前向算 ŷ 和损失，`zero_grad()` 清掉上一步的梯度，`backward()` 求梯度，
# `step()` 更新参数。课上跑 1000 个 epoch。
#
# Every epoch: forward to ŷ and the loss, `zero_grad()` to clear the last step's gradients,
# `backward()` for the new ones, `step()` to update the parameters. The course runs 1000 epochs.

# %%
initial = copy.deepcopy(model)  # the same starting point for the optimizer comparison below


def train(model, optimizer, epochs=1000):
    """The course's training cycle; returns the loss of every epoch."""
    losses = []
    for _ in range(epochs):
        y_pred = model(x_data)  # forward
        loss = criterion(y_pred, y_data)
        optimizer.zero_grad()
        loss.backward()  # backward
        optimizer.step()  # update
        losses.append(loss.item())
    return losses


losses = train(model, optimizer)
w, b = model.linear.weight.item(), model.linear.bias.item()
x_test = torch.tensor([[4.0]])
print(f"w = {w:.4f}, b = {b:.4f}, loss = {losses[-1]:.2e}")
print(f"prediction for x = 4: {model(x_test).item():.4f}")

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
left.semilogy(losses)
left.set(title="Summed MSE per epoch (SGD, lr = 0.01)", xlabel="epoch", ylabel="loss (log scale)")
line = torch.linspace(0, 4.5, 50).unsqueeze(1)
with torch.no_grad():
    right.plot(line, model(line), label=f"ŷ = {w:.3f}·x + {b:.3f}")
right.scatter(x_data, y_data, color="tab:red", zorder=3, label="course data")
right.scatter(x_test, model(x_test).detach(), marker="*", s=120, color="tab:green", zorder=3,
              label="prediction for x = 4")  # fmt: skip
right.set(title="The fitted line", xlabel="x", ylabel="y")
right.legend()
plt.show()

# %% [markdown]
# ## 5. 课后练习：换不同的优化器 · Exercise: other optimizers
#
# 课后要求把 SGD 换成 `torch.optim` 里的其他优化器比较损失曲线。
# 下面从同一个初始模型出发、学习率都取 0.01、各跑 500 个 epoch
# （LBFGS 每步需要一个重新计算损失的闭包）。
#
# The exercise swaps SGD for the other optimizers in `torch.optim` and compares the loss
# curves. Below, all start from the same initial model, with learning rate 0.01, for 500 epochs
# each (LBFGS needs a closure that recomputes the loss on every step).

# %%
optimizers = {
    "SGD": torch.optim.SGD, "Adagrad": torch.optim.Adagrad, "Adam": torch.optim.Adam,
    "Adamax": torch.optim.Adamax, "ASGD": torch.optim.ASGD, "RMSprop": torch.optim.RMSprop,
    "Rprop": torch.optim.Rprop,
}  # fmt: skip
epochs = 500
curves = {}
for name, optimizer_class in optimizers.items():
    candidate = copy.deepcopy(initial)
    curves[name] = train(candidate, optimizer_class(candidate.parameters(), lr=0.01), epochs)

candidate = copy.deepcopy(initial)
lbfgs = torch.optim.LBFGS(candidate.parameters(), lr=0.01)


def closure():
    lbfgs.zero_grad()
    loss = criterion(candidate(x_data), y_data)
    loss.backward()
    return loss


curves["LBFGS"] = [lbfgs.step(closure).item() for _ in range(epochs)]
for name, curve in sorted(curves.items(), key=lambda item: item[1][-1]):
    print(f"{name:8s} loss after {epochs} epochs: {curve[-1]:.2e}")
far = {name for name, curve in curves.items() if curve[-1] > 1e-2}
print("still far from the fit (loss > 0.01):", ", ".join(sorted(far)))
fastest = set(sorted(curves, key=lambda name: curves[name][-1])[:2])
# What the text below says (everything here is seeded).
assert fastest == {"Rprop", "LBFGS"} and far == {"Adagrad", "Adam", "Adamax", "RMSprop"}

fig, ax = plt.subplots(figsize=(7.5, 4.2), layout="constrained")
for name, curve in curves.items():
    # ASGD follows SGD almost exactly here; dashed, so that both lines stay visible.
    ax.semilogy(curve, label=name, linestyle="--" if name == "ASGD" else "-")
ax.set(title="Loss per epoch, lr = 0.01", xlabel="epoch", ylabel="summed MSE (log scale)")
ax.legend(ncol=2, fontsize="small")
plt.show()

# %% [markdown]
# 同一个学习率对不同的优化器意义不同。
# Rprop 只看梯度的符号、步长按需成倍放大，LBFGS 还用上了曲率信息，两者最快；
# SGD（和 ASGD）的步长是 lr 乘梯度，稳步收敛；
# RMSprop、Adam、Adamax、Adagrad 把梯度除以它自身大小的估计，每步大约只走 lr 这么远
# （Adagrad 的步长还越走越短），0.01 对它们太小，500 步还没走到。
# 学习率要随优化器一起调，这也是 zoo 把两者都做成超参数（`optimizer`、`lr`）的原因。
#
# One learning rate means different things to different optimizers. Rprop looks only at the
# sign of the gradient and multiplies its step size up as needed, and LBFGS also uses curvature:
# these two are the fastest. SGD (and ASGD) steps lr times the gradient and converges steadily.
# RMSprop, Adam, Adamax and Adagrad divide the gradient by an estimate of its own size, so they
# move about lr per step (Adagrad ever less), and for them 0.01 is too small to get there in
# 500 steps. The learning rate has to be tuned together with the optimizer, which is why zoo
# makes both of them hyperparameters (`optimizer`, `lr`).

# %% [markdown]
# ## 6. 同一个模型交给 Lightning · The same model under Lightning
#
# zoo 的模型是 `LightningModule`，损失、优化器都已写在类里，训练循环交给 `Trainer`。
# 训练设置只写在一个地方：配方 `recipes/linear_regression.yaml`。
# 下面读入这个配方，按 `zoo fit` 的方式构造模型和数据，用它的 `trainer` 设置再训一次。
#
# zoo's models are `LightningModule`s: the loss and the optimizer are part of the class, and the
# `Trainer` runs the training cycle. The training settings are written in one place only, the
# recipe `recipes/linear_regression.yaml`. Below, the recipe is read, the model and data are
# built from it as `zoo fit` builds them, and the model is trained again with the recipe's
# `trainer` settings.

# %%
recipe = load_recipe("linear_regression")
print("model:", recipe["model"])
print("trainer:", recipe["trainer"])
quiet_known_noise()  # Lightning's start-up messages that never apply here
logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # and its device banner
L.seed_everything(0, verbose=False)
lightning_model, toy_data = instantiate_recipe(recipe)
# No log files, checkpoints or progress bar: a notebook shows its results itself.
trainer = L.Trainer(
    **recipe["trainer"], accelerator="cpu", logger=False, enable_checkpointing=False,
    enable_progress_bar=False, enable_model_summary=False, default_root_dir=".",
)  # fmt: skip
trainer.fit(lightning_model, datamodule=toy_data)
with torch.no_grad():
    print(f"w = {lightning_model.linear.weight.item():.4f}, "
          f"b = {lightning_model.linear.bias.item():.4f}, "
          f"prediction for x = 4: {lightning_model(x_test).item():.4f}")  # fmt: skip

# %% [markdown]
# ## 在 zoo 里 · In zoo
#
# - `zoo.LinearRegression`：本讲的模型（`nn.Linear(1, 1)`），损失与指标来自 `zoo.Regressor`。
#   This lecture's model; its loss and metric come from `zoo.Regressor`.
# - `zoo.LinearToyDataModule`：课上的三个点。The course's three points.
# - `recipes/linear_regression.yaml`，命令 `zoo fit --config recipes/linear_regression.yaml`：
#   第 6 节的训练；`zoo.training.recipes.load_recipe` 和 `instantiate_recipe` 在 Python 里读配方。
#   The training of section 6, from the command line; `load_recipe` and `instantiate_recipe`
#   read a recipe in Python.
