# %% [markdown]
# # 第9讲 多分类问题 · Lecture 9: Softmax classifier
#
# 多分类时，网络最后一层对每个类别输出一个分数（logit），softmax 把它们变成一个概率分布：
# 每个值都为正，加起来等于 1。损失是正确类别概率的负对数（NLL）；PyTorch 的
# `CrossEntropyLoss` 把 log-softmax 和 NLL 合在一起，直接吃 logits。
#
# For several classes the last layer outputs one score (logit) per class, and softmax turns the
# scores into a probability distribution: every value positive, all of them summing to 1. The
# loss is the negative log of the correct class's probability (NLL); PyTorch's
# `CrossEntropyLoss` fuses log-softmax and NLL and takes the logits directly.

# %%
import logging
import warnings

import lightning as L
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

import zoo

# Lightning announces its accelerators at INFO level, and torch's pytree deprecation fires
# inside Lightning; neither concerns this notebook.
logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated")
# One thread: these layers are small, so more threads gain little, and on a busy or shared
# machine threads that wait for each other can make a run many times slower.
torch.set_num_threads(1)
_ = torch.manual_seed(0)

# %% [markdown]
# ## softmax · Softmax
#
# $P(y=i) = e^{z_i} / \sum_j e^{z_j}$。课程的例子：三个类别的 logits 为 `[0.2, 0.1, -0.1]`，
# 真实类别为 0。
#
# $P(y=i) = e^{z_i} / \sum_j e^{z_j}$. The course's example: logits `[0.2, 0.1, -0.1]` for
# three classes, true class 0.

# %%
z = torch.tensor([0.2, 0.1, -0.1])
p_by_hand = z.exp() / z.exp().sum()
p = torch.softmax(z, dim=0)
print("softmax by hand:", p_by_hand.numpy().round(4), " torch.softmax:", p.numpy().round(4))
print("all positive:", bool((p > 0).all()), "  sum:", float(p.sum()))
print(f"loss = -log P(class 0) = {-torch.log(p[0]):.4f}")
assert (p > 0).all() and torch.isclose(p.sum(), torch.tensor(1.0)) and torch.allclose(p, p_by_hand)

# The formula overflows for large logits; torch subtracts the largest logit first, which
# leaves the result unchanged because the shift cancels between numerator and denominator.
big = torch.tensor([1000.0, 999.0, 998.0])
print("naive on [1000, 999, 998]:", (big.exp() / big.exp().sum()).tolist())
print("torch.softmax:           ", [round(v, 4) for v in torch.softmax(big, dim=0).tolist()])
assert (big.exp() / big.exp().sum()).isnan().all() and torch.softmax(big, 0).isfinite().all()

# %%
fig, (ax_z, ax_p) = plt.subplots(1, 2, figsize=(8, 3))
classes = ["class 0", "class 1", "class 2"]
ax_z.bar(classes, z, color="C0")
ax_z.axhline(0, color="grey", lw=0.5)
ax_z.set(title="logits z (any real number)")
ax_p.bar(classes, p, color="C2")
ax_p.set(title=f"softmax(z): positive, sum = {p.sum():.0f}", ylim=(0, 1))
for i, value in enumerate(p):
    ax_p.text(i, value + 0.02, f"{value:.3f}", ha="center")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## NLL 与 `CrossEntropyLoss` · NLL and `CrossEntropyLoss`
#
# 对 softmax 的输出取对数再算 NLL，与把 logits 直接交给 `CrossEntropyLoss` 结果相同。
# 下面用课程的两组预测（三个样本，标签 `[2, 0, 1]`）和一个随机批次验证。注意：
# `CrossEntropyLoss` 的输入不能先过 softmax，否则就成了另一个（错误的）损失。
#
# The log of the softmax followed by NLL gives the same number as handing the logits to
# `CrossEntropyLoss`. Checked below with the course's two predictions (three samples, labels
# `[2, 0, 1]`) and a random batch. Do not apply softmax before `CrossEntropyLoss`: that computes
# a different (wrong) loss.

# %%
y = torch.tensor([2, 0, 1])
y_pred1 = torch.tensor([[0.1, 0.2, 0.9], [1.1, 0.1, 0.2], [0.2, 2.1, 0.1]])
y_pred2 = torch.tensor([[0.8, 0.2, 0.3], [0.2, 0.3, 0.5], [0.2, 0.2, 0.5]])
criterion = nn.CrossEntropyLoss()
for name, logits in (("Y_pred1", y_pred1), ("Y_pred2", y_pred2)):
    ce = criterion(logits, y)
    nll = F.nll_loss(torch.log(torch.softmax(logits, dim=1)), y)
    by_hand = -torch.log(torch.softmax(logits, dim=1)[torch.arange(3), y]).mean()
    print(f"{name}: CrossEntropyLoss {ce:.4f}   NLL(log softmax) {nll:.4f}   by hand {by_hand:.4f}")
    assert torch.allclose(ce, nll) and torch.allclose(ce, by_hand)

logits = torch.randn(1000, 10) * 3
labels = torch.randint(0, 10, (1000,))
ce = F.cross_entropy(logits, labels)
nll = F.nll_loss(torch.log(torch.softmax(logits, dim=1)), labels)
print(f"random batch of 1000: CE {ce:.6f}  NLL {nll:.6f}  |difference| {abs(ce - nll):.1e}")
wrong = F.cross_entropy(logits.softmax(1), labels)
print(f"softmax fed to CrossEntropyLoss (wrong): {wrong:.4f}")
assert torch.allclose(ce, nll, atol=1e-5) and not torch.allclose(ce, wrong, atol=0.1)

# %% [markdown]
# ## 图像就是一格格的数字 · An image is a grid of numbers
#
# MNIST 的一张图是 28×28 个 0–255 的灰度值，只有 1 个通道，张量形状 `(1, 28, 28)`；
# 彩色图有红、绿、蓝 3 个通道，形状 `(3, H, W)`。PyTorch 把通道放在最前面（C × H × W），
# 一个批次就是 `(N, C, H, W)`。
#
# An MNIST image is 28×28 grey values from 0 to 255, one channel: a tensor of shape
# `(1, 28, 28)`. A colour image has three channels, red, green and blue: `(3, H, W)`. PyTorch
# puts the channels first (C × H × W), and a batch is `(N, C, H, W)`.

# %%
mnist = zoo.MNISTDataModule(batch_size=64)
mnist.prepare_data()
mnist.setup()
test_images, test_labels = mnist.split_tensors("test")
digit = test_images[0]
print("one MNIST image:", tuple(digit.shape), digit.dtype, " label", int(test_labels[0]))
print("a batch of them:", tuple(test_images[:64].shape))

fig, ax = plt.subplots(figsize=(8, 8))
ax.imshow(digit[0], cmap="Greys")
for row in range(28):
    for col in range(28):
        value = int(digit[0, row, col])
        if value:
            color = "white" if value > 128 else "black"
            ax.text(col, row, value, ha="center", va="center", fontsize=5, color=color)
ax.set(title=f"MNIST test image 0 (label {int(test_labels[0])}): 28 × 28 values, 0 = blank")
ax.set_xticks([])
ax.set_yticks([])
plt.show()

# %%
# A colour version of the same digit, built by hand: three planes of the same size.
ink = digit[0].float() / 255
rgb = torch.stack([ink, 0.5 * ink, 0.6 * (1 - ink)])  # orange ink on a dark blue background
print("one channel:", tuple(digit.shape), "  three channels:", tuple(rgb.shape))
# Images on disk and in NumPy/PIL are H × W × C; `permute` gives PyTorch's C × H × W.
print("as PIL/NumPy store it (H, W, C):", tuple(rgb.permute(1, 2, 0).shape))

fig, axes = plt.subplots(1, 4, figsize=(11, 3))
axes[0].imshow(rgb.permute(1, 2, 0))
axes[0].set_title("RGB image (3, 28, 28)")
for ax, plane, name, cmap in zip(
    axes[1:], rgb, ("red", "green", "blue"), ("Reds", "Greens", "Blues"), strict=True
):
    ax.imshow(plane, cmap=cmap, vmin=0, vmax=1)
    ax.set_title(f"{name} channel (28, 28)")
for ax in axes:
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 训练 `zoo.SoftmaxMNIST` · Training `zoo.SoftmaxMNIST`
#
# 课程的网络：784 → 512 → 256 → 128 → 64 → 10，ReLU，最后一层不加 softmax（它在损失里）。
# 为了让笔记本在几秒内跑完，这里只训练 300 步（批量 64，约 1/3 个 epoch，课程训练 10 个 epoch），
# 并把学习率从课程的 0.01 提高到 0.05、动量从 0.5 提高到 0.9，让这几步走得更远。
#
# The course's network: 784 → 512 → 256 → 128 → 64 → 10 with ReLU, no softmax after the last
# layer (it lives in the loss). So that the notebook finishes in seconds it trains for only
# 300 steps (batch size 64, about a third of an epoch; the course trains 10 epochs), with the
# learning rate raised from the course's 0.01 to 0.05 and the momentum from 0.5 to 0.9 so that
# those few steps get further.


# %%
class LossHistory(L.Callback):
    """Keeps every training step's loss (the Trainer runs without a logger here)."""

    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append(float(outputs["loss"]))


L.seed_everything(0, verbose=False)
model = zoo.SoftmaxMNIST(lr=0.05, momentum=0.9)
print(f"SoftmaxMNIST: {sum(p.numel() for p in model.parameters()):,} parameters")
history = LossHistory()
trainer = L.Trainer(
    max_steps=300,
    limit_val_batches=0,  # no validation pass: the test split is scored once below
    logger=False,
    enable_checkpointing=False,
    enable_progress_bar=False,
    enable_model_summary=False,
    callbacks=[history],
)
trainer.fit(model, datamodule=mnist)
steps = len(history.losses)
epoch_fraction = steps / len(mnist.train_dataloader())
print(f"trained {steps} steps = {steps * 64:,} images = {epoch_fraction:.2f} epoch")
(result,) = trainer.test(model, datamodule=mnist, verbose=False)
print(f"test accuracy on the 10,000 official test images: {result['test/acc']:.2%}")

# %%
fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(history.losses, lw=0.8, alpha=0.5, label="per step")
window = 20
smooth = torch.tensor(history.losses).unfold(0, window, 1).mean(1)
ax.plot(range(window - 1, steps), smooth, lw=2, label=f"mean of {window} steps")
ax.axhline(torch.log(torch.tensor(10.0)), color="grey", ls="--", lw=1, label="log 10: guessing")
ax.set(xlabel="step", ylabel="cross-entropy", title="SoftmaxMNIST, first 300 steps")
ax.legend()
plt.tight_layout()
plt.show()

# %%
# The model outputs logits; softmax turns them into the class probabilities shown.
model.eval()
with torch.no_grad():
    probabilities = model(mnist.preprocess(test_images[:8])).softmax(dim=1)
print("each row of probabilities sums to 1:", torch.allclose(probabilities.sum(1), torch.ones(8)))
assert torch.allclose(probabilities.sum(1), torch.ones(8))
fig, axes = plt.subplots(2, 8, figsize=(12, 3.2), gridspec_kw={"height_ratios": [2, 1]})
for i in range(8):
    axes[0, i].imshow(test_images[i, 0], cmap="Greys")
    axes[0, i].set_title(f"label {int(test_labels[i])}\nguess {int(probabilities[i].argmax())}")
    axes[0, i].axis("off")
    axes[1, i].bar(range(10), probabilities[i], color="C2")
    axes[1, i].set(ylim=(0, 1), xticks=range(10))
    axes[1, i].tick_params(labelsize=6)
    if i:
        axes[1, i].set_yticks([])
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 在 zoo 里 · In zoo
#
# - `zoo.SoftmaxMNIST`：课程的五层全连接网络 · the course's five-layer network
#   (`zoo/models/softmax.py`)；`zoo.SoftmaxMNIST.from_pretrained()` 载入已验证的权重 · loads
#   verified weights.
# - 损失在 `zoo.models.base.ImageClassifier.loss`（`F.cross_entropy` 作用于 logits）· the loss
#   lives in `ImageClassifier.loss` (cross-entropy on logits); `predict_step` returns softmax.
# - 数据 · data: `zoo.MNISTDataModule`（离线自带 · bundled offline）.
# - 配方 · recipe: `recipes/softmax_mnist.yaml`（20 个 epoch · 20 epochs）
# - 命令 · command: `zoo fit --config recipes/softmax_mnist.yaml`
