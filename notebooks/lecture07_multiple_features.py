# %% [markdown]
# # 第7讲 多维特征输入 · Lecture 7: Multiple input features
#
# 每个样本不再是一个数，而是一行特征：一个 `nn.Linear(8, 6)` 一次就把 8 维输入变成 6 维，
# 对整批样本就是一次矩阵乘法。把几个线性层和非线性激活函数叠起来，网络就能表示更复杂的函数；
# 层数越多、越宽，它学到的越多——也包括训练数据里的噪声。
#
# Each sample is now a row of features, not one number: an `nn.Linear(8, 6)` maps 8 inputs to 6
# in one step, and for a whole batch that is one matrix multiplication. Stacking linear layers
# with non-linear activations lets a network represent more complex functions; the deeper and
# wider it is, the more it learns, including the noise in its training data.

# %%
import itertools

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

import zoo

# One thread: these layers are small, so more threads gain little, and on a busy or shared
# machine threads that wait for each other can make a run many times slower.
torch.set_num_threads(1)
_ = torch.manual_seed(0)  # fixed seed: the same weights, flips and curves on every run

# %% [markdown]
# ## 数据 · The data
#
# 课程用糖尿病数据集（8 个特征，标签 0/1）。zoo 离线自带的是 scikit-learn 的乳腺癌数据集：
# 569 个样本，每个 30 个特征。`TabularDataModule` 按种子划分，并用训练集的均值和标准差标准化。
#
# The course uses a diabetes table (8 features, a 0/1 label). zoo ships scikit-learn's
# breast-cancer set offline instead: 569 samples of 30 features. `TabularDataModule` splits it
# with a seed and standardises every feature with the training split's mean and deviation.

# %%
# A larger validation share than the default 10 %, so that the validation curves below are
# averages over more than a handful of samples.
data = zoo.TabularDataModule(val_fraction=0.2, test_fraction=0.2, seed=0)
data.setup()
x_train, y_train = data.split_tensors("train")
x_val, y_val = data.split_tensors("val")
print("train:", tuple(x_train.shape), " val:", tuple(x_val.shape))
print(
    "labels in train: benign (1) =",
    int(y_train.sum()),
    " malignant (0) =",
    int((1 - y_train).sum()),
)

# %% [markdown]
# ## 权重的形状 · Weight shapes
#
# `nn.Linear(in, out)` 的权重是 `(out, in)`，偏置是 `(out,)`；输出 `x @ W.T + b`。
# 下面打印课程的 8 维输入网络和 zoo 用的 30 维输入网络（都是 in → 6 → 4 → 1）。
#
# The weight of `nn.Linear(in, out)` has shape `(out, in)`, its bias `(out,)`; the output is
# `x @ W.T + b`. Below: the course's network for 8 inputs and zoo's for 30 (both in → 6 → 4 → 1).

# %%
for in_features in (8, 30):
    net = zoo.MultiFeatureMLP(in_features=in_features)
    print(f"MultiFeatureMLP(in_features={in_features})")
    for name, p in net.named_parameters():
        if not name.startswith("metrics"):
            print(f"  {name:15s} {tuple(p.shape)}")
    print(f"  parameters: {sum(p.numel() for p in net.parameters()):,}\n")

# %%
# One batch through the 30-feature network: every layer turns (N, in) into (N, out) at once.
model = zoo.MultiFeatureMLP(in_features=30)
x = x_train[:5]
h1 = torch.sigmoid(model.linear1(x))
h2 = torch.sigmoid(model.linear2(h1))
out = model.linear3(h2)
print(
    "x",
    tuple(x.shape),
    "-> h1",
    tuple(h1.shape),
    "-> h2",
    tuple(h2.shape),
    "-> out",
    tuple(out.shape),
)

# The layer is exactly the matrix product the lecture writes down.
by_hand = x @ model.linear1.weight.T + model.linear1.bias
print("Linear(30, 6)(x) == x @ W.T + b:", torch.allclose(model.linear1(x), by_hand))
print("same as model(x):", torch.allclose(model(x), out))
assert torch.allclose(model.linear1(x), by_hand) and torch.allclose(model(x), out)

# %% [markdown]
# ## 激活函数 · Activation functions
#
# 没有非线性，多个线性层叠起来仍然只是一个线性层。课程用 sigmoid；
# 下图画出几种常用激活函数和它们的导数。
# sigmoid 的导数最大只有 0.25，层数一多，梯度一层层相乘就变小——第 11 讲会再看到这个问题。
#
# Without a non-linearity, stacked linear layers collapse into one linear layer. The course uses
# the sigmoid; the plot shows several common activations and their derivatives. The sigmoid's
# derivative is at most 0.25, so over many layers the multiplied gradients shrink; lecture 11
# comes back to this.

# %%
activations = {
    "Sigmoid": nn.Sigmoid(),
    "Tanh": nn.Tanh(),
    "ReLU": nn.ReLU(),
    "LeakyReLU(0.1)": nn.LeakyReLU(0.1),
    "ELU": nn.ELU(),
    "Softplus": nn.Softplus(),
    "GELU": nn.GELU(),
}
z = torch.linspace(-5, 5, 401, requires_grad=True)
fig, (ax_f, ax_d) = plt.subplots(1, 2, figsize=(11, 4))
for name, act in activations.items():
    y = act(z)
    # The derivative by autograd: the sum's gradient is the elementwise derivative.
    (grad,) = torch.autograd.grad(y.sum(), z)
    ax_f.plot(z.detach(), y.detach(), label=name)
    ax_d.plot(z.detach(), grad, label=name)
ax_f.set(title="activation f(z)", xlabel="z", ylim=(-1.5, 3))
ax_d.set(title="derivative f'(z)", xlabel="z", ylim=(-0.2, 1.2))
for ax in (ax_f, ax_d):
    ax.axhline(0, color="grey", lw=0.5)
    ax.grid(alpha=0.3)
ax_f.legend(fontsize=8)
plt.tight_layout()
plt.show()

sigmoid_grad = torch.autograd.grad(torch.sigmoid(z).sum(), z)[0]
print(f"largest sigmoid derivative: {sigmoid_grad.max():.4f}")
assert abs(sigmoid_grad.max() - 0.25) < 1e-4

# %% [markdown]
# ## 更深、更宽的网络 · Deeper and wider networks
#
# 为了让“噪声”看得见，我们把 15% 的训练标签随机翻转，然后用同样的 Adam、全批量训练三个网络：
# 课程的 30→6→4→1（sigmoid），一个宽的 30→64→1 和一个深的 30→128→128→128→1（ReLU）。
# 验证集的标签不动。
#
# To make the noise visible, 15 % of the training labels are flipped at random; then three
# networks train with the same full-batch Adam: the course's 30→6→4→1 (sigmoid), a wide 30→64→1
# and a deep 30→128→128→128→1 (ReLU). The validation labels stay clean.

# %%
flipped = torch.rand(len(y_train), generator=torch.Generator().manual_seed(0)) < 0.15
y_noisy = torch.where(flipped, 1 - y_train, y_train)
print(f"flipped training labels: {int(flipped.sum())} of {len(y_train)}")


def mlp(widths: list[int]) -> nn.Sequential:
    """Linear layers of the given widths with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for fan_in, fan_out in itertools.pairwise(widths):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


torch.manual_seed(0)
nets = {
    "course 30-6-4-1": zoo.MultiFeatureMLP(in_features=30),
    "wide 30-64-1": mlp([30, 64, 1]),
    "deep 30-128-128-128-1": mlp([30, 128, 128, 128, 1]),
}
steps = 500
curves, summary = {}, {}
for name, net in nets.items():
    optimizer = torch.optim.Adam(net.parameters(), lr=0.02)
    train_loss, val_loss = [], []
    for _ in range(steps):
        loss = F.binary_cross_entropy_with_logits(net(x_train).squeeze(1), y_noisy)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            val = F.binary_cross_entropy_with_logits(net(x_val).squeeze(1), y_val)
        train_loss.append(loss.item())
        val_loss.append(val.item())
    curves[name] = (train_loss, val_loss)
    with torch.no_grad():
        predicted_train = (net(x_train).squeeze(1) > 0).float()
        predicted_val = (net(x_val).squeeze(1) > 0).float()
    # "Memorised": the network now predicts the wrong, flipped label for that training sample.
    memorised = (predicted_train[flipped] == y_noisy[flipped]).float().mean()
    val_acc = (predicted_val == y_val).float().mean()
    params = sum(p.numel() for p in net.parameters())
    lowest = val_loss.index(min(val_loss))
    summary[name] = {"memorised": memorised, "val_acc": val_acc, "lowest": lowest}
    print(
        f"{name:22s} {params:6,} params  train loss {train_loss[-1]:.3f}  "
        f"val loss {val_loss[-1]:.3f} (lowest {min(val_loss):.3f} at step {lowest})  "
        f"flipped labels memorised {memorised:.0%}  val acc {val_acc:.1%}"
    )

# What the text below concludes from these numbers.
small, *large = summary.values()
for big, (train_loss, val_loss) in zip(large, list(curves.values())[1:], strict=True):
    assert train_loss[-1] < 0.01 and big["memorised"] > 0.9  # fits even the flipped labels
    assert big["lowest"] < 50 and val_loss[-1] > 2 * min(val_loss)  # best early, then worse
    assert small["val_acc"] > big["val_acc"]
assert small["memorised"] < 0.5

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for (name, (train_loss, val_loss)), color in zip(curves.items(), ("C0", "C1", "C3"), strict=True):
    axes[0].plot(train_loss, color=color, label=name)
    axes[1].plot(val_loss, color=color, label=name)
axes[0].set(title="training loss (15 % labels flipped)", xlabel="step", ylabel="BCE")
axes[1].set(title="validation loss (clean labels)", xlabel="step")
for ax in axes:
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
axes[1].legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# 大网络把训练损失压到接近 0，连被翻转的标签也背下来了；
# 它们的验证损失在最初几十步内就到了最低点，之后一路回升——学到的是噪声，不是规律。
# 小网络学不会这些噪声，反而在验证集上更好。所以更大的网络要配合早停、正则化或更多数据。
#
# The large networks drive the training loss to almost zero and memorise even the flipped
# labels; their validation loss is lowest within the first few dozen steps and climbs after
# that: they learned the noise, not the rule. The small network cannot learn that noise and does
# better on validation. Larger networks need early stopping, regularisation or more data.

# %% [markdown]
# ## 在 zoo 里 · In zoo
#
# - `zoo.MultiFeatureMLP(in_features=30)`：课程的 in → 6 → 4 → 1 网络 · the course's network
#   (`zoo/models/multifeature.py`)；`zoo.MultiFeatureMLP.from_pretrained()` 载入已验证的权重 ·
#   loads verified weights.
# - `zoo.TabularDataModule()`：乳腺癌数据；`csv_path="diabetes.csv.gz"` 读课程的糖尿病 CSV ·
#   the breast-cancer data, or the course's diabetes CSV (`zoo/data/tabular.py`).
# - 配方 · recipe: `recipes/multifeature_breast_cancer.yaml`
# - 命令 · command: `zoo fit --config recipes/multifeature_breast_cancer.yaml`
