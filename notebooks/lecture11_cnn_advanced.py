# %% [markdown]
# # 第11讲 卷积神经网络高级 · Lecture 11: Advanced CNNs
#
# Inception 块让几种卷积并行，再把结果沿通道拼接，1×1 卷积先压缩通道，把计算量降下来。
# 网络一深，梯度在反向传播中一层层相乘、越来越小，前面的层几乎学不动；残差块让输出变成
# `x + F(x)`，梯度可以沿这条捷径直接传回去（He et al. 2016）。
#
# An Inception block runs several convolutions side by side and concatenates their outputs
# along the channels; 1×1 convolutions shrink the channels first and so cut the cost. In a deep
# network the gradients are multiplied layer by layer on the way back and grow ever smaller,
# until the first layers barely learn; a residual block outputs `x + F(x)`, and the gradient
# flows straight back along that shortcut (He et al. 2016).

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import zoo
from zoo.models.inception import InceptionBlock
from zoo.models.resnet import ResidualBlock

# One thread: these layers are small, so more threads gain little, and on a busy or shared
# machine threads that wait for each other can make a run many times slower.
torch.set_num_threads(1)
_ = torch.manual_seed(0)
mnist = zoo.MNISTDataModule()
mnist.prepare_data()
mnist.setup()
test_images, test_labels = mnist.split_tensors("test")

# %% [markdown]
# ## Inception 块：沿通道拼接 · The Inception block: concatenated along channels
#
# 课程的 InceptionA 有四个分支：1×1（16 通道）、1×1→5×5（24）、1×1→3×3→3×3（24）、
# 平均池化→1×1（24）。每个分支都保持高和宽不变，所以可以沿通道（第 1 维）拼成 88 个通道。
# 这里把 zoo 已训练的 `InceptionMNIST` 的第一个块用在一个真实数字上。
#
# The course's InceptionA has four branches: 1×1 (16 channels), 1×1→5×5 (24), 1×1→3×3→3×3 (24)
# and average-pool→1×1 (24). Every branch keeps the height and width, so the outputs can be
# concatenated along the channels (dimension 1) into 88. Here the first block of zoo's trained
# `InceptionMNIST` runs on a real digit.

# %%
inception = zoo.InceptionMNIST.from_pretrained()  # bundled, verified weights
block: InceptionBlock = inception.incep1
with torch.no_grad():
    x = F.relu(inception.mp(inception.conv1(mnist.preprocess(test_images[:1]))))  # (1, 10, 12, 12)
    branches = {
        "1×1": block.branch1x1(x),
        "1×1 → 5×5": block.branch5x5_2(block.branch5x5_1(x)),
        "1×1 → 3×3 → 3×3": block.branch3x3_3(block.branch3x3_2(block.branch3x3_1(x))),
        "avg-pool → 1×1": block.branch_pool(F.avg_pool2d(x, 3, stride=1, padding=1)),
    }
    out = block(x)
print("block input:", tuple(x.shape))
for name, y in branches.items():
    print(f"  {name:18s} {tuple(y.shape)}")
print(
    "concatenated:", tuple(out.shape), "=", " + ".join(str(y.shape[1]) for y in branches.values())
)
print("equals torch.cat of the branches:", torch.equal(out, torch.cat(list(branches.values()), 1)))
assert torch.equal(out, torch.cat(list(branches.values()), 1)) and out.shape[1] == 88

# %%
# The block as the lecture draws it, with the channel counts computed above.
fig, ax = plt.subplots(figsize=(10, 4.6))
ax.set(xlim=(0, 10), ylim=(0, 6))
ax.axis("off")
box = {"boxstyle": "round", "fc": "#e8f0fa", "ec": "#3b6ea5"}
ax.text(5, 5.6, f"input {tuple(x.shape[1:])}", ha="center", bbox=box)
columns = {
    "1×1": ["1×1 conv, 16"],
    "1×1 → 5×5": ["1×1 conv, 16", "5×5 conv, 24"],
    "1×1 → 3×3 → 3×3": ["1×1 conv, 16", "3×3 conv, 24", "3×3 conv, 24"],
    "avg-pool → 1×1": ["3×3 avg-pool", "1×1 conv, 24"],
}
arrow = {"arrowstyle": "->", "color": "grey"}
for column, (name, ops) in enumerate(columns.items()):
    cx = 1.25 + 2.5 * column
    ax.annotate("", (cx, 4.65), (5, 5.4), arrowprops=arrow)
    for row, op in enumerate(ops):
        ax.text(cx, 4.4 - 0.9 * row, op, ha="center", va="center", bbox=box)
        if row:
            ax.annotate("", (cx, 4.65 - 0.9 * row), (cx, 4.15 - 0.9 * (row - 1)), arrowprops=arrow)
    bottom = 4.4 - 0.9 * (len(ops) - 1)
    ax.text(cx, bottom - 0.5, f"{tuple(branches[name].shape[1:])}", ha="center", color="C3")
    ax.annotate("", (5, 0.8), (cx, bottom - 0.65), arrowprops=arrow)
ax.text(5, 0.5, f"concatenate along channels → {tuple(out.shape[1:])}", ha="center", bbox=box)
plt.show()

# %% [markdown]
# ## 1×1 卷积省下多少乘法 · What the 1×1 convolution saves
#
# 课程的例子：输入 192 × 28 × 28，用 5×5 卷积得到 32 个通道。每个输出值要做
# 5·5·192 次乘法。先用 1×1 卷积压到 16 个通道，再做 5×5，乘法次数约减到十分之一。
# 公式的结果再用 PyTorch 的 `FlopCounterMode` 在真实的层上数一遍（它数的 FLOP = 2 × 乘法）。
#
# The course's example: a 192 × 28 × 28 input, a 5×5 convolution to 32 channels. Each output
# value costs 5·5·192 multiplications. A 1×1 convolution down to 16 channels first, then the
# 5×5, cuts the count to about a tenth. The formula's numbers are checked by counting on real
# layers with PyTorch's `FlopCounterMode` (which counts FLOPs = 2 × multiplications).


# %%
def conv_multiplications(c_in: int, c_out: int, k: int, size: int) -> int:
    """Multiplications of a k×k convolution with 'same' padding on size × size maps."""
    return k * k * c_in * c_out * size * size


def counted_multiplications(layers: nn.Module, x: torch.Tensor) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        layers(x)
    return counter.get_total_flops() // 2


def saving(c_in: int, reduced: int, c_out: int, size: int) -> tuple[int, int]:
    """(direct, with 1×1 first) multiplications, each checked against a count on real layers."""
    direct = conv_multiplications(c_in, c_out, 5, size)
    bottleneck = conv_multiplications(c_in, reduced, 1, size) + conv_multiplications(
        reduced, c_out, 5, size
    )
    x = torch.zeros(1, c_in, size, size)
    assert direct == counted_multiplications(nn.Conv2d(c_in, c_out, 5, padding=2), x)
    layers = nn.Sequential(nn.Conv2d(c_in, reduced, 1), nn.Conv2d(reduced, c_out, 5, padding=2))
    assert bottleneck == counted_multiplications(layers, x)
    return direct, bottleneck


cases = {
    "course: 192→32 on 28×28 (1×1 to 16)": (192, 16, 32, 28),
    "zoo incep2 5×5 branch: 20→24 on 4×4 (1×1 to 16)": (20, 16, 24, 4),
}
results = {}
for name, case in cases.items():
    direct, bottleneck = results[name] = saving(*case)
    print(name)
    print(f"  5×5 directly:       {direct:>13,} multiplications")
    print(f"  1×1 first, then 5×5: {bottleneck:>12,}  ({bottleneck / direct:.1%} of direct)")
course_share = results["course: 192→32 on 28×28 (1×1 to 16)"]
zoo_share = results["zoo incep2 5×5 branch: 20→24 on 4×4 (1×1 to 16)"]
assert 0.08 < course_share[1] / course_share[0] < 0.12  # "about a tenth"
assert zoo_share[1] / zoo_share[0] > 0.7  # "saves little"

# %%
fig, ax = plt.subplots(figsize=(6, 3))
direct, bottleneck = results["course: 192→32 on 28×28 (1×1 to 16)"]
ax.bar(["5×5 conv\n192 → 32", "1×1 conv 192 → 16\nthen 5×5 16 → 32"], [direct, bottleneck],
       color=["C3", "C2"])  # fmt: skip
for i, value in enumerate((direct, bottleneck)):
    ax.text(i, value, f"{value / 1e6:.1f} M", ha="center", va="bottom")
ax.set(ylabel="multiplications", title="192 × 28 × 28 input, 32 output channels")
plt.tight_layout()
plt.show()

# %% [markdown]
# 在 zoo 的 MNIST 网络里，第二个 Inception 块的输入只有 20 个通道，
# 先压到 16 个几乎省不了什么（上面第二行）；
# 1×1 卷积的节省来自输入通道很多的时候，例如 GoogLeNet 里的 192 个。
#
# In zoo's MNIST network the second Inception block sees only 20 channels, so reducing them to
# 16 first saves little (the second case above); the 1×1 convolution pays off when the input is
# wide, such as GoogLeNet's 192 channels.
#
# ## 梯度消失 · Vanishing gradients
#
# 实验：同样深度、同样的层、同样多的参数，只差有没有捷径。普通块 = zoo 的 `ResidualBlock`
# 去掉 `x +`。网络：卷积 1→16（5×5）、4×4 池化（让 CPU 算得快）、10 个块（20 个 3×3 卷积层）、
# 全连接，一共 22 个带权重的层；另加一个只有 2 个普通块（6 层）的浅网络作对照。
# 都用 PyTorch 的默认初始化，和课程一样不用 batch norm。
#
# The experiment: the same depth, the same layers, the same parameters; only the shortcut
# differs. A plain block is zoo's `ResidualBlock` without the `x +`. The networks: conv 1→16
# (5×5), 4×4 max-pooling (to keep the CPU work small), 10 blocks (20 convolutions of 3×3) and a
# linear layer: 22 layers with weights. A shallow network of 2 plain blocks (6 layers) is the
# baseline. All use PyTorch's default initialisation and, as in the course, no batch norm.


# %%
class PlainBlock(ResidualBlock):
    """zoo's ResidualBlock without its shortcut: relu(conv2(relu(conv1(x))))."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv2(F.relu(self.conv1(x))))


def network(block: type[nn.Module], blocks: int) -> nn.Sequential:
    """Stem (1 → 16 channels, 6 × 6 maps), `blocks` blocks of 16 channels, linear → 10."""
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=5),  # (N, 16, 24, 24)
        nn.MaxPool2d(4),  # (N, 16, 6, 6)
        nn.ReLU(),
        *[block(16) for _ in range(blocks)],
        nn.Flatten(),
        nn.Linear(16 * 6 * 6, 10),
    )


def weight_gradient_norms(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """‖∂loss/∂W‖ of every layer's weight, input side first, for one batch."""
    net.zero_grad()
    F.cross_entropy(net(x), y).backward()
    return [p.grad.norm().item() for name, p in net.named_parameters() if name.endswith("weight")]


train_images, train_labels = mnist.split_tensors("train")
x_batch, y_batch = mnist.preprocess(train_images[:256]), train_labels[:256]

torch.manual_seed(0)
plain_deep = network(PlainBlock, 10)
torch.manual_seed(0)
residual_deep = network(ResidualBlock, 10)  # the same initial weights as plain_deep
torch.manual_seed(0)
plain_he = network(PlainBlock, 10)
for module in plain_he.modules():  # He et al. 2015's initialisation, made for ReLU networks
    if isinstance(module, nn.Conv2d | nn.Linear):
        nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        nn.init.zeros_(module.bias)

norms = {
    "plain, 22 layers": weight_gradient_norms(plain_deep, x_batch, y_batch),
    "plain, 22 layers, He init": weight_gradient_norms(plain_he, x_batch, y_batch),
    "residual, 22 layers": weight_gradient_norms(residual_deep, x_batch, y_batch),
}
for name, values in norms.items():
    print(f"{name:26s} first layer {values[0]:.1e}   last layer {values[-1]:.1e}   "
          f"largest / smallest {max(values) / min(values):.1e}")  # fmt: skip

# The text below: vanished by orders of magnitude in the plain network, not with shortcuts or
# with He initialisation (largest and smallest layer within a factor of 30).
plain, plain_he_norms, residual = norms.values()
assert plain[-1] / plain[0] > 1e4
assert max(residual) / min(residual) < 30 and max(plain_he_norms) / min(plain_he_norms) < 30

fig, ax = plt.subplots(figsize=(8, 3.8))
for (name, values), style in zip(norms.items(), ("o-", "s--", "^-"), strict=True):
    ax.semilogy(range(1, len(values) + 1), values, style, ms=4, label=name)
ax.set(xlabel="layer (1 = next to the input)", ylabel="‖∂loss/∂W‖",
       title="gradient norm per layer at initialisation, one batch of 256")  # fmt: skip
ax.grid(alpha=0.3)
ax.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# 默认初始化下，普通网络靠近输入的层的梯度比最后一层小好几个数量级：信号每过一层都在缩小。
# 同样的权重加上捷径后，最大和最小的层梯度相差不到 30 倍。He 初始化也能救回这个普通网络的梯度——
# He et al. 2016 正是在用了这种初始化和 batch norm、梯度已经正常的情况下，
# 发现 56 层的普通网络仍比 20 层的训练误差更高（“退化”，论文图 1），
# 残差连接解决的是这一点。下面训练看看。
#
# With the default initialisation the plain network's gradients near the input are orders of
# magnitude smaller than at its last layer: the signal shrinks at every layer. With the same
# weights and shortcuts, the largest and smallest layer gradients lie within a factor of 30.
# He initialisation also rescues this plain network's gradients; He et al. 2016 used it
# together with batch norm, so their gradients were healthy, and still found the 56-layer plain
# network training to a higher error than the 20-layer one ("degradation", the paper's Fig. 1).
# Residual connections fixed that. Next, training.

# %%
val_images, val_labels = mnist.split_tensors("val")
x_val, y_val = mnist.preprocess(val_images[:500]), val_labels[:500]


def train(net: nn.Module, steps: int = 200, every: int = 20) -> tuple[list[float], list[float]]:
    """SGD with momentum on seeded batches of 64; returns (losses, validation accuracies)."""
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    generator = torch.Generator().manual_seed(0)  # the same batches for every network
    losses, accuracies = [], []
    for step in range(steps):
        idx = torch.randint(len(train_labels), (64,), generator=generator)
        loss = F.cross_entropy(net(mnist.preprocess(train_images[idx])), train_labels[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if (step + 1) % every == 0:
            with torch.no_grad():
                accuracies.append((net(x_val).argmax(1) == y_val).float().mean().item())
    return losses, accuracies


torch.manual_seed(0)
runs = {
    "plain, 6 layers": network(PlainBlock, 2),
    "plain, 22 layers": network(PlainBlock, 10),
    "residual, 22 layers": network(ResidualBlock, 10),
}
history = {name: train(net) for name, net in runs.items()}
for name, (losses, accuracies) in history.items():
    print(f"{name:20s} loss over the last 50 steps {sum(losses[-50:]) / 50:.3f}   "
          f"validation accuracy {accuracies[-1]:.1%}")  # fmt: skip

shallow, plain_deep_run, residual_run = (
    (sum(losses[-50:]) / 50, accuracies[-1]) for losses, accuracies in history.values()
)
assert abs(plain_deep_run[0] - torch.log(torch.tensor(10.0))) < 0.05  # stuck at guessing
assert residual_run[0] < shallow[0] < 1.0 and residual_run[1] > shallow[1]  # residual best

# %%
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 3.8))
for (name, (losses, accuracies)), color in zip(history.items(), ("C0", "C3", "C2"), strict=True):
    smooth = torch.tensor(losses).unfold(0, 20, 1).mean(1)
    ax_loss.plot(range(20, len(losses) + 1), smooth, color=color, label=name)
    ax_acc.plot(range(20, len(losses) + 1, 20), accuracies, "o-", ms=3, color=color, label=name)
ax_loss.axhline(torch.log(torch.tensor(10.0)), color="grey", ls="--", lw=1)
ax_loss.text(len(losses), 2.2, "chance: log 10", ha="right", color="grey", fontsize=8)
ax_loss.set(xlabel="step", ylabel="training loss (mean of 20 steps)", title="training loss")
ax_acc.set(xlabel="step", ylabel="accuracy", title=f"validation accuracy ({len(y_val)} images)",
           ylim=(0, 1))  # fmt: skip
for ax in (ax_loss, ax_acc):
    ax.grid(alpha=0.3)
ax_acc.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# 22 层的普通网络停在“瞎猜”的损失 log 10 附近，浅网络能学，同样 22 层的残差网络学得最快——
# 和论文图 1 一样，更深的普通网络训练得更差；加上捷径后，深度反而有用。
#
# The 22-layer plain network stays near the loss of guessing, log 10; the shallow one learns,
# and the 22-layer residual network learns fastest. As in the paper's Fig. 1, the deeper plain
# network trains worse; with shortcuts the depth helps instead.
#
# ## 已训练的 ResNetMNIST · The trained ResNetMNIST
#
# 课程的残差网络：卷积 1→16、池化、`ResidualBlock(16)`、卷积 16→32、池化、`ResidualBlock(32)`、
# 全连接。zoo 自带已验证的权重，离线载入，在 10000 张真实测试图上评估。
#
# The course's residual network: conv 1→16, pool, `ResidualBlock(16)`, conv 16→32, pool,
# `ResidualBlock(32)`, linear. zoo ships verified weights that load offline; here they are
# scored on the 10,000 real test digits.

# %%
resnet = zoo.ResNetMNIST.from_pretrained()
# Trained with label smoothing, so even its surest answers stay a little below probability 1.
print("label smoothing in training:", resnet.hparams.label_smoothing)
with torch.no_grad():
    probabilities = torch.cat(
        [resnet(mnist.preprocess(batch)).softmax(1) for batch in test_images.split(1000)]
    )
predictions = probabilities.argmax(1)
wrong = (predictions != test_labels).nonzero().flatten()
print(f"ResNetMNIST.from_pretrained(): {sum(p.numel() for p in resnet.parameters()):,} parameters")
print(f"test accuracy {(predictions == test_labels).float().mean():.2%}: "
      f"{len(wrong)} of {len(test_labels):,} digits wrong")  # fmt: skip

shown = torch.cat([torch.arange(8), wrong[:8]])
fig, axes = plt.subplots(2, 8, figsize=(12, 4.2))
for ax, i in zip(axes.flat, shown.tolist(), strict=True):
    ax.imshow(test_images[i, 0], cmap="Greys")
    ok = predictions[i] == test_labels[i]
    title = f"label {int(test_labels[i])} → {int(predictions[i])}\np = {probabilities[i].max():.2f}"
    ax.set_title(title, fontsize=9, color="black" if ok else "C3")
    ax.axis("off")
fig.suptitle("top: the first 8 test digits; bottom: the first 8 it gets wrong (red)")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 在 zoo 里 · In zoo
#
# - `zoo.InceptionMNIST`、`zoo.models.inception.InceptionBlock`（`zoo/models/inception.py`）；
#   配方 · recipe `recipes/inception_mnist.yaml`；命令 · command
#   `zoo fit --config recipes/inception_mnist.yaml`
# - `zoo.ResNetMNIST`、`zoo.models.resnet.ResidualBlock`（`zoo/models/resnet.py`）；
#   `zoo.ResNetMNIST.from_pretrained()` 载入已验证的权重 · loads verified weights；配方 · recipe
#   `recipes/resnet_mnist.yaml`；命令 · command `zoo fit --config recipes/resnet_mnist.yaml`
# - 论文的 CIFAR-10 残差网络 · the paper's CIFAR-10 ResNets (depth 20 … 110, batch norm):
#   `zoo.ResNetCIFAR`，`recipes/resnet20_cifar10.yaml`
# - `zoo demo`：在 CPU 上短训 ResNetMNIST 并打印准确率 · trains ResNetMNIST briefly on the CPU
#   and prints its accuracy.
