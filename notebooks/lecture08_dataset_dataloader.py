# %% [markdown]
# # 第8讲 加载数据集 · Lecture 8: Dataset and DataLoader
#
# `Dataset` 回答两个问题：一共有多少个样本（`__len__`），第 i 个样本是什么（`__getitem__`）；
# `DataLoader` 据此打乱顺序、按 batch size 取样本并拼成小批量。
# 一个 epoch 是把全部样本训练一遍，一次 iteration 处理一个小批量。
#
# A `Dataset` answers two questions: how many samples there are (`__len__`) and what sample i is
# (`__getitem__`); a `DataLoader` uses that to shuffle, take batch-size samples at a time and
# stack them into mini-batches. One epoch passes over every sample once; one iteration
# processes one mini-batch.

# %%
import math
import time

import matplotlib.pyplot as plt
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset
from torchvision import datasets, transforms

import zoo
from zoo.data import TensorBatchLoader

# One thread: these batches are small, so more threads gain little, and on a busy or shared
# machine threads that wait for each other can make a run many times slower.
torch.set_num_threads(1)
_ = torch.manual_seed(0)  # DataLoader's shuffle draws from torch's global generator

# %% [markdown]
# ## 一个真实的数据集 · A real dataset
#
# zoo 自带真实的 MNIST。`MNISTDataModule` 把图像一次读成 uint8 张量，从官方训练集里按种子分出
# 5000 张作验证集，剩下 55000 张训练。
#
# zoo ships the real MNIST. `MNISTDataModule` reads the images once into a uint8 tensor and
# carves a seeded validation split of 5,000 out of the official training set, leaving 55,000.

# %%
mnist = zoo.MNISTDataModule(batch_size=64)
mnist.prepare_data()
mnist.setup()
images, labels = mnist.split_tensors("train")
print("train images", tuple(images.shape), images.dtype, " labels", tuple(labels.shape))
print("validation images", tuple(mnist.split_tensors("val")[0].shape))


# %% [markdown]
# ## Dataset：`__len__` 和 `__getitem__` · Dataset: `__len__` and `__getitem__`
#
# 课程里的写法：继承 `Dataset`，实现这两个方法。这里包装的就是上面的 MNIST 张量。
#
# The course's pattern: subclass `Dataset` and implement these two methods. Here it wraps the
# MNIST tensors above.


# %%
class MNISTTensors(Dataset):
    """A map-style dataset over tensors: sample i is (image i as floats in [0, 1], label i)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[i].float() / 255, self.labels[i]


dataset = MNISTTensors(images, labels)
image, label = dataset[0]
print("len(dataset) =", len(dataset), " dataset[0]:", tuple(image.shape), "label", int(label))

# %% [markdown]
# ## epoch、batch size、iteration · Epoch, batch size, iteration
#
# 每个 epoch 的 iteration 数 = ⌈样本数 / batch size⌉。不足一个批次的尾巴可以保留（`DataLoader`
# 默认），也可以丢掉（`drop_last=True`，zoo 训练时这样做，让每一步的批量一样大）。
# 每个 epoch 重新打乱，所以被丢掉的是哪些样本每次都不同。
#
# Iterations per epoch = ⌈samples / batch size⌉. The last, short batch can be kept (the
# `DataLoader` default) or dropped (`drop_last=True`, as zoo's training loader does, so that
# every step sees a full batch). Which samples are left over changes from epoch to epoch,
# because the order is shuffled anew.

# %%
batch_size = 64
loader = DataLoader(dataset, batch_size=batch_size, shuffle=True)
print(f"{len(dataset)} samples / batch size {batch_size} = {len(dataset) / batch_size:.3f}")
print("iterations per epoch, DataLoader (keeps the short batch):", len(loader))
print("  by formula ceil(N / B):", math.ceil(len(dataset) / batch_size))
print("  size of the last batch:", len(dataset) - (len(loader) - 1) * batch_size)
print("iterations per epoch, zoo's train loader (drop_last):", len(mnist.train_dataloader()))
assert len(loader) == math.ceil(len(dataset) / batch_size)
assert len(mnist.train_dataloader()) == len(dataset) // batch_size

# The course's two nested loops, counting instead of training: two full epochs.
train_loader = mnist.train_dataloader()
for epoch in range(2):
    train_loader.sampler.set_epoch(epoch)  # Lightning does this at every epoch's start
    iterations, seen, shapes = 0, 0, set()
    # zoo's image batches also carry a seed, for augmentation done later on the device.
    for inputs, targets, _seed in train_loader:
        iterations += 1
        seen += len(targets)
        shapes.add(tuple(inputs.shape))
    print(f"epoch {epoch}: {iterations} iterations, {seen} samples, batch shapes {shapes}")

# %% [markdown]
# ## 打乱需要下标 · Shuffling needs indexing
#
# `shuffle=True` 时，`DataLoader` 的采样器先生成 `0 … len-1` 的一个随机排列，
# 再按这些下标调用 `dataset[i]`。所以能打乱的前提是数据集支持按下标随机访问。
# 一个只能从头读到尾的数据流（`IterableDataset`）没有下标，
# `DataLoader` 会直接拒绝 `shuffle=True`。
#
# With `shuffle=True`, the `DataLoader`'s sampler first draws a random permutation of
# `0 … len-1`, then calls `dataset[i]` with those indices. Shuffling therefore needs a dataset
# that can be read at any index. A stream that can only be read front to back (an
# `IterableDataset`) has no indices, and `DataLoader` refuses `shuffle=True` for it.


# %%
class Recorded(Dataset):
    """Twelve samples that remember which indices the loader asked for."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    def __len__(self) -> int:
        return 12

    def __getitem__(self, i: int) -> int:
        self.asked.append(i)
        return i


recorded = Recorded()
for batch in DataLoader(recorded, batch_size=4, shuffle=True):
    print("batch", batch.tolist())
print("indices asked for, in order:", recorded.asked)
assert sorted(recorded.asked) == list(range(12))  # a permutation: each index exactly once


class Stream(IterableDataset):
    """A stream, like lines read from a file: no `__getitem__`, no length."""

    def __iter__(self):
        return iter(range(12))


try:
    DataLoader(Stream(), batch_size=4, shuffle=True)
except ValueError as error:
    print("IterableDataset + shuffle=True ->", error)
else:
    raise AssertionError("DataLoader accepted shuffle=True for a stream")

# %% [markdown]
# zoo 的 `TensorBatchLoader` 也是按下标打乱：每个 epoch 由 `(seed, epoch)` 生成一个排列，
# 所以每个 epoch 的顺序不同，而同一个种子总能重现。
#
# zoo's `TensorBatchLoader` shuffles by indexing too: each epoch's permutation comes from
# `(seed, epoch)`, so every epoch has a new order and the same seed always reproduces it.

# %%
orders = {}
for epoch in (0, 1):
    train_loader.sampler.set_epoch(epoch)
    orders[epoch] = train_loader.sampler.indices()
    print(f"epoch {epoch}: first indices {orders[epoch][:8].tolist()}")
print("epoch 0 again, same seed:", mnist.train_dataloader().sampler.indices()[:8].tolist())
permutation = torch.equal(orders[0].sort().values, torch.arange(len(labels)))
print("an epoch's order is a permutation (every index once):", permutation)
assert permutation and not torch.equal(orders[0], orders[1])
assert torch.equal(mnist.train_dataloader().sampler.indices(), orders[0])

reads = 300
fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), sharey=True)
axes[0].plot(torch.arange(len(labels))[:reads], ".", ms=3, color="grey")
axes[0].set(title="shuffle=False", xlabel="position in epoch", ylabel="sample index read")
for ax, epoch in zip(axes[1:], (0, 1), strict=True):
    ax.plot(orders[epoch][:reads], ".", ms=3, color=f"C{epoch}")
    ax.set(title=f"shuffle=True, epoch {epoch}", xlabel="position in epoch")
plt.suptitle(f"the first {reads} reads of an epoch")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 为什么 zoo 的加载器更快 · Why zoo's loader is faster
#
# 课程的 MNIST 流水线是 `torchvision.datasets.MNIST` + `ToTensor` + `Normalize`：
# 每个样本都要单独调用一次 `__getitem__`（转成 PIL 图像、再转张量、再归一化），
# 然后 `collate` 把 64 个小张量叠成一个批次——每批几百次 Python 调用。
# 数据本来就整块放在内存里时，`TensorBatchLoader` 每批只做一次 `index_select` 取出 64 行，
# 再对整批做一次乘加归一化。下面在同样的 MNIST 训练图像上，用同样的批量 64 和打乱，
# 每种加载器取 300 批，重复三次取最快的一次。
#
# The course's MNIST pipeline is `torchvision.datasets.MNIST` + `ToTensor` + `Normalize`: every
# sample costs one `__getitem__` call (to a PIL image, to a tensor, normalised), then `collate`
# stacks 64 small tensors into a batch: hundreds of Python calls per batch. When the data
# already sits in memory as one tensor, `TensorBatchLoader` does one `index_select` of 64 rows
# per batch and normalises the whole batch with one multiply-add. Below, on the same MNIST
# training images with the same batch size 64 and shuffling, each loader delivers 300 batches;
# the fastest of three repeats counts.

# %%
# The course's dataset, reading the very files zoo unpacked (zoo keeps torchvision's layout).
course_transform = transforms.Compose(
    [transforms.ToTensor(), transforms.Normalize(mnist.mean, mnist.std)]
)
course_set = datasets.MNIST(str(mnist.data_dir), train=True, transform=course_transform)

# Both pipelines produce the same normalised images: zoo's split is a permutation of the
# official training set, and `split_index` says which official image each row is.
official = int(mnist.split_index["train"][0])
same = torch.allclose(course_set[official][0], mnist.preprocess(images[:1])[0], atol=1e-6)
print("course pipeline and zoo's give the same normalised image:", same)
assert same

pipelines = {
    "torchvision MNIST + DataLoader": lambda: DataLoader(course_set, batch_size=64, shuffle=True),
    "TensorDataset + DataLoader": lambda: DataLoader(
        TensorDataset(images, labels), batch_size=64, shuffle=True
    ),
    "zoo TensorBatchLoader": lambda: TensorBatchLoader(
        (images, labels), batch_size=64, shuffle=True
    ),
}


def ms_per_batch(make_loader, batches: int = 300, repeats: int = 3) -> float:
    """Fastest of `repeats` runs: milliseconds per normalised float batch."""
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for n, (x, _y) in enumerate(make_loader(), start=1):
            if x.dtype == torch.uint8:  # the tensor loaders normalise whole batches, as zoo does
                x = mnist.preprocess(x)
            if n == batches:
                break
        best = min(best, (time.perf_counter() - start) / batches * 1e3)
    return best


# All three run on the one thread set above, so the comparison is between the loaders alone.
timings = {name: ms_per_batch(make) for name, make in pipelines.items()}
fastest = timings["zoo TensorBatchLoader"]
for name, ms in timings.items():
    print(f"{name:32s} {ms:7.3f} ms/batch  ({ms / fastest:5.1f}x zoo's)")
course_batches = math.ceil(len(course_set) / 64)
course_epoch_s = timings["torchvision MNIST + DataLoader"] * course_batches / 1e3
print(f"one course epoch ({course_batches} batches) spends {course_epoch_s:.1f} s just loading")
print(f"zoo's training images in memory: {images.numel() * images.element_size() / 1e6:.0f} MB")
course_ms, tensor_dataset_ms, zoo_ms = timings.values()
assert course_ms > tensor_dataset_ms > zoo_ms  # the order the text below explains

# %%
fig, ax = plt.subplots(figsize=(7, 3))
ax.barh(
    [name.replace(" + ", "\n+ ") for name in timings],
    list(timings.values()),
    color=["C3", "C1", "C2"],
)
ax.set(xscale="log", xlabel="milliseconds per batch of 64 (log scale)")
ax.invert_yaxis()
for y, ms in enumerate(timings.values()):
    ax.text(ms, y, f" {ms:.3f} ms", va="center")
ax.set_xlim(right=max(timings.values()) * 8)
plt.title("loading a shuffled MNIST batch")
plt.tight_layout()
plt.show()

# %% [markdown]
# 大部分时间花在逐样本的 Python 调用上（变换和 `collate`），而不是数据本身。`num_workers>0`
# 可以把这些调用分给多个进程并行，但并不减少调用次数；`TensorBatchLoader` 直接把它们去掉了。
# 它适用于能整块放进内存的数据集（MNIST 的训练图像有多大，上面打印了），课程用到的数据集都是这样。
#
# Most of the time goes into per-sample Python calls (the transforms and `collate`), not into
# the data. `num_workers>0` spreads those calls over processes but does not remove them;
# `TensorBatchLoader` removes them. It suits datasets that fit in memory as one tensor (the size
# of MNIST's training images is printed above), as every dataset of the course does.

# %% [markdown]
# ## 在 zoo 里 · In zoo
#
# - `zoo.data.loader.TensorBatchLoader`：按下标切片的内存加载器，可从检查点续训 · the in-memory
#   loader, resumable from checkpoints (`zoo/data/loader.py`).
# - `zoo.MNISTDataModule`、`zoo.TabularDataModule`：`train_dataloader()` 返回它 · their
#   `train_dataloader()` returns one (`zoo/data/base.py`, `zoo/data/mnist.py`).
# - 配方 · recipe: `recipes/multifeature_breast_cancer.yaml`（课程第 8 讲的小批量训练 · the
#   lecture's mini-batch training）；`data.init_args.batch_size` 设置批量 · sets the batch size.
# - 命令 · command: `zoo fit --config recipes/multifeature_breast_cancer.yaml`
