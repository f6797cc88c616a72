# %% [markdown]
# # 第10讲 卷积神经网络基础 · Lecture 10: CNN basics
#
# 卷积核在图像上滑动，每个位置把它覆盖的一小块（所有输入通道）与核逐元素相乘再求和，
# 得到输出的一个值；有几个核就有几个输出通道。padding 和 stride 决定输出的大小，
# max-pooling 把尺寸减半。课程的 CNN 把两组“卷积 + 池化”接上一个全连接层来识别 MNIST 数字。
#
# A kernel slides over the image; at each position it multiplies the patch it covers (across all
# input channels) element by element and sums, giving one output value; there is one output
# channel per kernel. Padding and stride set the output size, and max-pooling halves it. The
# course's CNN stacks two "convolution + pooling" stages and one linear layer to read MNIST
# digits.

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

import zoo

# One thread: these layers are small, so more threads gain little, and on a busy or shared
# machine threads that wait for each other can make a run many times slower.
torch.set_num_threads(1)
_ = torch.manual_seed(0)


def show_grid(ax, values: torch.Tensor, title: str, cmap: str = "Blues") -> None:
    """Draw a small 2-D tensor as coloured cells with its numbers written in."""
    image = ax.imshow(values, cmap=cmap)
    rows, cols = values.shape
    for row in range(rows):
        for col in range(cols):
            # White numbers on dark cells, black on light ones, whatever the colour map.
            r, g, b, _ = image.cmap(image.norm(values[row, col]))
            color = "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "black"
            text = f"{values[row, col]:g}"
            ax.text(col, row, text, ha="center", va="center", fontsize=8, color=color)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


# %% [markdown]
# ## 三通道卷积，手算 · A 3-channel convolution by hand
#
# 输入 3 × 5 × 5，一个 3 × 3 × 3 的卷积核：每个通道用核的对应切片做卷积，三个结果相加，
# 得到一个 3 × 3 的输出通道。下面用两层循环手算，再与 `nn.Conv2d` 比较。
#
# A 3 × 5 × 5 input and one 3 × 3 × 3 kernel: each input channel is convolved with its own slice
# of the kernel and the three results are added, giving one 3 × 3 output channel. Below it is
# computed with two loops and compared with `nn.Conv2d`.

# %%
x = torch.randint(0, 10, (1, 3, 5, 5)).float()  # (batch, channels, height, width)
kernel = torch.randint(-1, 2, (1, 3, 3, 3)).float()  # (out channels, in channels, kh, kw)

by_hand = torch.zeros(3, 3)
for i in range(3):
    for j in range(3):
        patch = x[0, :, i : i + 3, j : j + 3]  # all three channels under the kernel
        by_hand[i, j] = (patch * kernel[0]).sum()

conv = nn.Conv2d(3, 1, kernel_size=3, bias=False)
with torch.no_grad():
    conv.weight.copy_(kernel)
    by_torch = conv(x)[0, 0]
print("by hand:\n", by_hand)
print("nn.Conv2d:\n", by_torch)
print("equal:", torch.equal(by_hand, by_torch))
assert torch.equal(by_hand, by_torch)

# %%
fig, axes = plt.subplots(3, 3, figsize=(8, 7.5), gridspec_kw={"width_ratios": [5, 3, 3]})
per_channel = [F.conv2d(x[:, c : c + 1], kernel[:, c : c + 1])[0, 0] for c in range(3)]
assert torch.equal(sum(per_channel), by_hand)  # what the figure's title says
for c in range(3):
    show_grid(axes[c, 0], x[0, c], f"input channel {c} (5×5)")
    show_grid(axes[c, 1], kernel[0, c], f"kernel slice {c} (3×3)", cmap="RdBu")
    show_grid(axes[c, 2], per_channel[c], f"channel {c} ∗ slice {c}", cmap="Greens")
plt.suptitle(f"the output is the sum of the right column:\n{by_hand.int().tolist()}")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 卷积核的形状 · The kernel's shape
#
# `nn.Conv2d(in, out, k)` 有 `out` 个核，每个核覆盖全部 `in` 个通道，所以权重形状是
# `(out, in, k, k)`。课程的例子：输入 5 个通道、100 × 100，10 个 3 × 3 的核。
#
# `nn.Conv2d(in, out, k)` holds `out` kernels, each spanning all `in` channels, so its weight
# has shape `(out, in, k, k)`. The course's example: 5 input channels of 100 × 100, ten 3 × 3
# kernels.

# %%
example = nn.Conv2d(5, 10, kernel_size=3)
image = torch.randn(1, 5, 100, 100)
print("input ", tuple(image.shape))
print("output", tuple(example(image).shape))
print("weight", tuple(example.weight.shape), " bias", tuple(example.bias.shape))
for in_channels, out_channels, k in ((1, 10, 5), (10, 20, 5), (3, 64, 3), (64, 128, 1)):
    shape = tuple(nn.Conv2d(in_channels, out_channels, k).weight.shape)
    print(f"Conv2d({in_channels:3d}, {out_channels:3d}, kernel_size={k}).weight: {shape}")

# %% [markdown]
# ## padding 和 stride · Padding and stride
#
# 输出边长 = ⌊(H + 2·padding − kernel) / stride⌋ + 1。padding 在四周补零，让输出不缩小；
# stride 是每次滑动的步长，步长 2 让输出约减半。下表同时列出公式和 `nn.Conv2d` 实际给出的形状。
#
# Output side = ⌊(H + 2·padding − kernel) / stride⌋ + 1. Padding adds zeros around the border so
# that the output need not shrink; stride is how far the kernel moves each time, and stride 2
# roughly halves the output. The table lists the formula next to what `nn.Conv2d` returns.

# %%
print(" input  kernel  padding  stride   formula   Conv2d output")
for size in (5, 28):
    for k in (3, 5):
        for padding in (0, k // 2):
            for stride in (1, 2):
                formula = (size + 2 * padding - k) // stride + 1
                layer = nn.Conv2d(1, 1, k, stride=stride, padding=padding)
                shape = tuple(layer(torch.zeros(1, 1, size, size)).shape)
                print(f"{size:4d}² {k:6d} {padding:8d} {stride:7d} {formula:8d}²   {shape}")
                assert shape == (1, 1, formula, formula)

# %%
# The course's example: a 5 × 5 input, a 3 × 3 kernel 1 … 9, padding 1 keeps 5 × 5; stride 2
# without padding gives 2 × 2.
grid = torch.tensor(
    [[3, 4, 6, 5, 7], [2, 4, 6, 8, 2], [1, 6, 7, 8, 4], [9, 7, 4, 6, 2], [3, 7, 5, 4, 1]]
).float()[None, None]
weights = torch.arange(1, 10).float().view(1, 1, 3, 3)
padded = F.conv2d(grid, weights, padding=1)[0, 0]
strided = F.conv2d(grid, weights, stride=2)[0, 0]
fig, axes = plt.subplots(1, 4, figsize=(12, 3.3), gridspec_kw={"width_ratios": [5, 3, 5, 2]})
show_grid(axes[0], grid[0, 0], "input 5×5")
show_grid(axes[1], weights[0, 0], "kernel 3×3", cmap="Oranges")
show_grid(axes[2], padded, "padding=1 → 5×5", cmap="Greens")
show_grid(axes[3], strided, "stride=2 → 2×2", cmap="Purples")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 最大池化 · Max-pooling
#
# `MaxPool2d(2)` 把图分成不重叠的 2 × 2 小块，每块只留最大值：尺寸减半，通道数不变，没有参数。
#
# `MaxPool2d(2)` cuts the map into non-overlapping 2 × 2 blocks and keeps each block's maximum:
# half the size, the same channels, no parameters.

# %%
pool_in = torch.tensor([[3, 4, 6, 5], [2, 4, 6, 8], [1, 6, 7, 8], [9, 7, 4, 6]]).float()
pooled = nn.MaxPool2d(2)(pool_in[None, None])[0, 0]
print("MaxPool2d(2):", pooled.int().tolist())
print("its parameters:", len(list(nn.MaxPool2d(2).parameters())))
fig, axes = plt.subplots(1, 2, figsize=(6, 3), gridspec_kw={"width_ratios": [4, 2]})
show_grid(axes[0], pool_in, "input 4×4")
axes[0].axhline(1.5, color="black", lw=2)  # the borders of the 2 × 2 blocks
axes[0].axvline(1.5, color="black", lw=2)
show_grid(axes[1], pooled, "max of each block: 2×2", cmap="Greens")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 课程的 CNN：形状与参数 · The course's CNN: shapes and parameters
#
# `zoo.CNNMNIST`：conv 1→10（5×5）、池化、conv 10→20（5×5）、池化、全连接 320→10。
# 用 forward hook 记录每一层输出的形状，再逐层数参数。
#
# `zoo.CNNMNIST`: conv 1→10 (5×5), pool, conv 10→20 (5×5), pool, linear 320→10. Forward hooks
# record every layer's output shape; then the parameters are counted layer by layer.

# %%
model = zoo.CNNMNIST.from_pretrained()  # bundled, verified weights: no download
trace = []
hooks = [
    module.register_forward_hook(
        lambda m, args, out, name=name: trace.append((name, type(m).__name__, tuple(out.shape)))
    )
    for name, module in model.named_children()
    if name in ("conv1", "conv2", "pooling", "fc")
]
with torch.no_grad():
    model(torch.zeros(1, 1, 28, 28))
for hook in hooks:
    hook.remove()
print(f"{'input':8s} {'':10s} (1, 1, 28, 28)")
for name, kind, shape in trace:
    print(f"{name:8s} {kind:10s} {shape}")
print("(ReLU, a function in forward, keeps each pooled shape; fc sees 20 × 4 × 4 = 320 values)\n")

total = 0
for name in ("conv1", "conv2", "fc"):
    layer = getattr(model, name)
    count = sum(p.numel() for p in layer.parameters())
    total += count
    weight, bias = tuple(layer.weight.shape), tuple(layer.bias.shape)
    print(f"{name:6s} weight {weight!s:16s} + bias {bias!s:6s} = {count:5,}")
print(f"total {total:,} parameters; model says {sum(p.numel() for p in model.parameters()):,}")
assert total == sum(p.numel() for p in model.parameters())

# %% [markdown]
# 用 zoo 自带的已训练权重，看一个真实数字经过两层卷积后的特征图，再在 10000 张测试图上测准确率。
#
# With zoo's bundled trained weights: the feature maps of a real digit after each convolution
# stage, and the accuracy on the 10,000 test images.

# %%
mnist = zoo.MNISTDataModule()
mnist.prepare_data()
mnist.setup()
test_images, test_labels = mnist.split_tensors("test")
x = mnist.preprocess(test_images[:1])
with torch.no_grad():
    maps1 = F.relu(model.pooling(model.conv1(x)))[0]  # (10, 12, 12)
    maps2 = F.relu(model.pooling(model.conv2(maps1[None])))[0]  # (20, 4, 4)
    predictions = torch.cat(
        [model(mnist.preprocess(batch)).argmax(1) for batch in test_images.split(1000)]
    )
accuracy = (predictions == test_labels).float().mean()
print(f"CNNMNIST.from_pretrained(): test accuracy {accuracy:.2%} on {len(test_labels):,} images")

fig = plt.figure(figsize=(12, 5.2))
grid_spec = fig.add_gridspec(4, 12)
ax = fig.add_subplot(grid_spec[:2, :2])
ax.imshow(test_images[0, 0], cmap="Greys")
ax.set_title(f"input, label {int(test_labels[0])}", fontsize=9)
ax.axis("off")
for k in range(10):
    ax = fig.add_subplot(grid_spec[k // 5, 2 + k % 5])
    ax.imshow(maps1[k], cmap="viridis")
    ax.set_title(f"conv1 #{k}", fontsize=8)
    ax.axis("off")
for k in range(10):  # conv1's 5 × 5 kernels
    ax = fig.add_subplot(grid_spec[2 + k // 5, 2 + k % 5])
    ax.imshow(model.conv1.weight[k, 0].detach(), cmap="RdBu")
    ax.set_title(f"kernel #{k}", fontsize=8)
    ax.axis("off")
for k in range(20):
    ax = fig.add_subplot(grid_spec[k // 5, 7 + k % 5])
    ax.imshow(maps2[k], cmap="viridis")
    ax.set_title(f"conv2 #{k}", fontsize=8)
    ax.axis("off")
fig.suptitle("conv1 → 10 maps of 12×12 (with its kernels below)        conv2 → 20 maps of 4×4")
plt.show()

# %% [markdown]
# ## 在 zoo 里 · In zoo
#
# - `zoo.CNNMNIST`：课程的 CNN · the course's CNN (`zoo/models/cnn.py`)；
#   `zoo.CNNMNIST.from_pretrained()` 载入已验证的权重 · loads verified weights.
# - `zoo.CNNCIFAR`：同样的层，输入 3 × 32 × 32 的 CIFAR-10 · the same layers for 3 × 32 × 32
#   CIFAR-10 images (`recipes/cnn_cifar10.yaml`).
# - 配方 · recipe: `recipes/cnn_mnist.yaml`
# - 命令 · command: `zoo fit --config recipes/cnn_mnist.yaml`；`zoo list` 列出各模型的参数量 ·
#   lists every model's parameter count.
