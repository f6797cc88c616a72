# %% [markdown]
# # 第6讲 逻辑斯蒂回归 · Lecture 6: Logistic regression
#
# 分类问题输出的是每一类的概率，而不是把类别编号当成数值去回归。
# 逻辑斯蒂回归在线性模型后面接一个 sigmoid，把任意实数压进 (0, 1) 当作概率，
# 再用二元交叉熵（BCE）衡量预测分布和真实分布的差距；课上的例子是由学习时长预测能否通过考试。
#
# A classifier outputs the probability of each class instead of regressing on the class numbers.
# Logistic regression puts a sigmoid after the linear model, squeezing any real number into
# (0, 1) as a probability, and measures the gap between the predicted and the true distribution
# with binary cross-entropy (BCE); the course's example predicts from the hours studied whether
# a student passes the exam.

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from zoo import LogisticRegression, LogisticToyDataModule, MNISTDataModule

# %% [markdown]
# ## 1. torchvision 的数据集 · A torchvision dataset
#
# 课上用 `torchvision.datasets.MNIST(root=..., train=True, download=True)` 下载 MNIST。
# 这里没有网络，所以不下载：zoo 自带 MNIST 的原始文件，
# `MNISTDataModule().prepare_data()` 校验 MD5 后按 torchvision 的目录结构解压，
# 之后 torchvision 的 `MNIST` 类用 `download=False` 直接读取，读到的就是真正的 MNIST。
# 课上同时提到的 CIFAR-10 必须联网下载，本讲不演示。
#
# The course downloads MNIST with `torchvision.datasets.MNIST(root=..., train=True,
# download=True)`. There is no network here, so nothing is downloaded: zoo ships the original
# MNIST files, `MNISTDataModule().prepare_data()` checks their MD5s and unpacks them in
# torchvision's folder layout, and torchvision's own `MNIST` class then reads them with
# `download=False`: this is the real MNIST. CIFAR-10, which the course also mentions, has to be
# downloaded and is not shown.

# %%
mnist = MNISTDataModule()
mnist.prepare_data()  # unpacks zoo's bundled copy once; later runs find the files in place
train_set = torchvision.datasets.MNIST(root=str(mnist.data_dir), train=True, download=False)
test_set = torchvision.datasets.MNIST(root=str(mnist.data_dir), train=False, download=False)
image, label = train_set[0]
print(f"{len(train_set)} training and {len(test_set)} test images, read from {mnist.raw_dir}")
print(f"train_set[0] is a PIL {type(image).__name__} of size {image.size} with label {label}")

fig, axes = plt.subplots(1, 10, figsize=(10, 1.6), layout="constrained")
for digit, ax in enumerate(axes):
    index = int((train_set.targets == digit).nonzero()[0])  # the first image of each digit
    ax.imshow(train_set[index][0], cmap="gray_r")
    ax.set_title(f"label {digit}", fontsize="small")
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 2. 分类不是对类别编号做回归 · Classification is not regression on the label numbers
#
# 类别编号只是名字：数字 7 和 1 长得像，和 8 却不像，可若把编号当成数值回归，
# 把 1 错认成 7 的损失是 36，错认成 2 才是 1，损失里硬塞了一个并不存在的大小顺序。
# 下面在 MNIST 的 10000 张训练图上各拟合一个线性模型（带一点岭正则的最小二乘，
# 因为边缘像素总是 0）：一个回归编号本身，四舍五入成整数；
# 另一个每类一个输出，取得分最高的一类。两者都在 10000 张测试图上评估。
#
# Class numbers are only names: a 7 looks like a 1 and not like an 8, yet regressing on the
# numbers charges 36 for taking a 1 for a 7 and only 1 for taking it for a 2, forcing an order of
# size onto the loss that does not exist. Below, two linear models are fitted to 10,000 MNIST
# training images (least squares with a little ridge regularisation, because the border pixels
# are always 0): one regresses on the label number itself, rounded to an integer; the other has
# one output per class and picks the class with the highest score. Both are evaluated on the
# 10,000 test images.


# %%
def design_matrix(images):
    """Pixels scaled to [0, 1], flattened, plus a column of ones for the bias."""
    pixels = images.reshape(len(images), -1).double() / 255
    return torch.cat([pixels, torch.ones(len(images), 1, dtype=pixels.dtype)], dim=1)


train_x, train_y = design_matrix(train_set.data[:10000]), train_set.targets[:10000]
test_x, test_y = design_matrix(test_set.data), test_set.targets
targets = torch.cat([train_y.double().unsqueeze(1), F.one_hot(train_y, 10).double()], dim=1)
gram = train_x.T @ train_x + torch.eye(train_x.shape[1], dtype=train_x.dtype)  # ridge λ = 1
solution = torch.linalg.solve(gram, train_x.T @ targets)
scores = test_x @ solution
as_number = scores[:, 0].round().clamp(0, 9).long()
as_classes = scores[:, 1:].argmax(dim=1)
number_accuracy = (as_number == test_y).double().mean().item()
class_accuracy = (as_classes == test_y).double().mean().item()
print(f"regression on the label number: test accuracy {number_accuracy:.1%}")
print(f"one output per class:           test accuracy {class_accuracy:.1%}")
wrong = as_number != test_y
off_by_one = ((as_number - test_y).abs() == 1)[wrong].double().mean().item()
print(f"wrong answers of the regression one away from the true digit: {off_by_one:.0%}")
assert class_accuracy > 2 * number_accuracy and 0.35 < off_by_one < 0.65  # as the text says

fig, ax = plt.subplots(figsize=(7, 3.8), layout="constrained")
ax.boxplot([scores[test_y == d, 0].numpy() for d in range(10)], positions=range(10), sym="")
ax.plot(range(10), range(10), "r.", markersize=12, label="the label itself")
ax.set(title="Regression on the label number: predictions per true digit",
       xlabel="true digit", ylabel="predicted number")  # fmt: skip
ax.legend()
plt.show()

# %% [markdown]
# 每个数字的预测值都散布在好几个整数上，错的答案里约有一半只差 1（比例见上），其余差得更远；
# 每类一个输出的模型准确率高出一倍多。
# 所以分类模型对每一类给出一个输出，再把输出变成概率：
# 二分类用本讲的 sigmoid，多分类用第 9 讲的 softmax。
#
# The predictions for each digit spread over several integers; about half of the wrong answers
# are one away from the true digit (the share is printed above), the rest further. The model
# with one output per class is more than twice as accurate. So a classifier gives one output per
# class and turns the outputs into probabilities: with this lecture's sigmoid for two classes,
# with lecture 9's softmax for more.

# %% [markdown]
# ## 3. sigmoid 与饱和 · The sigmoid and its saturation
#
# 逻辑斯蒂函数 σ(z) = 1 / (1 + e⁻ᶻ) 把任意实数映到 (0, 1)，导数是 σ(z)(1 − σ(z))，
# 最大只有 0.25（在 z = 0 处），|z| 一大就趋于 0，这叫饱和。
# 饱和的后果：如果用 MSE 去比较 σ(z) 和标签，一个"自信地错了"的预测（z 很负而标签是 1）
# 几乎得不到梯度；BCE 对 z 的梯度是 σ(z) − y，错得越厉害梯度越大。
#
# The logistic function σ(z) = 1 / (1 + e⁻ᶻ) maps any real number into (0, 1). Its derivative,
# σ(z)(1 − σ(z)), is at most 0.25 (at z = 0) and goes to 0 as |z| grows: the sigmoid saturates.
# The consequence: with MSE between σ(z) and the label, a confidently wrong prediction (z very
# negative, label 1) gets almost no gradient, while BCE's gradient with respect to z is
# σ(z) − y, larger the more wrong the prediction is.

# %%
z = torch.linspace(-10, 10, 401, requires_grad=True)
target = torch.ones_like(z)
(slope,) = torch.autograd.grad(torch.sigmoid(z).sum(), z)
(mse_grad,) = torch.autograd.grad(F.mse_loss(torch.sigmoid(z), target, reduction="sum"), z)
(bce_grad,) = torch.autograd.grad(F.binary_cross_entropy_with_logits(z, target, reduction="sum"), z)
print("   z   sigmoid(z)  slope      dMSE/dz    dBCE/dz   (label 1)")
for value in (-10.0, -5.0, 0.0, 5.0):
    i = int(torch.argmin((z - value).abs()))
    print(f"{value:5.0f}  {torch.sigmoid(z[i]).item():10.5f}  {slope[i]:.2e}  "
          f"{mse_grad[i]:9.2e}  {bce_grad[i]:9.2e}")  # fmt: skip

z_plot = z.detach()
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
left.plot(z_plot, torch.sigmoid(z_plot), label="σ(z)")
left.plot(z_plot, slope, label="σ'(z) = σ(z)(1 − σ(z))")
left.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")
left.set(title="The sigmoid saturates for large |z|", xlabel="z")
left.legend()
right.semilogy(z_plot, mse_grad.abs(), label="MSE on σ(z)")
right.semilogy(z_plot, bce_grad.abs(), label="BCE")
right.set(title="|gradient| with respect to z, label 1", xlabel="z", ylabel="|dloss/dz|")
right.legend()
plt.show()

# %% [markdown]
# ## 4. BCE 就是两个分布的交叉熵 · BCE is the cross-entropy of two distributions
#
# 一个样本的标签 y 给出真实分布 P = (1 − y, y)（不通过、通过的概率），
# 模型给出预测分布 Q = (1 − ŷ, ŷ)。
# 交叉熵 H(P, Q) = −Σ P·log Q = −[y·log ŷ + (1 − y)·log(1 − ŷ)]，正是 BCE。
# 又因为 H(P, Q) = H(P) + KL(P‖Q)，而标签是 0 或 1 时 H(P) = 0，
# 最小化 BCE 就是让预测分布贴近真实分布。下面算课上那张表。
#
# A sample's label y gives the true distribution P = (1 − y, y) (the probabilities of failing
# and passing), and the model gives the predicted distribution Q = (1 − ŷ, ŷ). The cross-entropy
# H(P, Q) = −Σ P·log Q = −[y·log ŷ + (1 − y)·log(1 − ŷ)] is exactly BCE. And since
# H(P, Q) = H(P) + KL(P‖Q), with H(P) = 0 for a label of 0 or 1, minimising BCE brings the
# predicted distribution close to the true one. Below, the course's table.

# %%
y_true = torch.tensor([1.0, 1.0, 0.0, 0.0])
y_pred = torch.tensor([0.2, 0.8, 0.3, 0.7])
p = torch.stack([1 - y_true, y_true], dim=1)  # true distribution over (fail, pass)
q = torch.stack([1 - y_pred, y_pred], dim=1)  # predicted distribution
cross_entropy = -(p * q.log()).sum(dim=1)
bce = F.binary_cross_entropy(y_pred, y_true, reduction="none")
print("  y   y_hat   cross-entropy   BCE")
for row in zip(y_true, y_pred, cross_entropy, bce, strict=True):
    print("  {:.0f}   {:.1f}     {:.4f}        {:.4f}".format(*(v.item() for v in row)))
print(f"mean BCE: {bce.mean():.4f}")
assert torch.allclose(cross_entropy, bce)

# %% [markdown]
# 预测越接近标签，损失越小；把 0.8 预测给标签 1 的损失只有 0.2231，
# 把 0.2 预测给它则是 1.6094，惩罚远比差值 0.6 看上去的大。
#
# The closer the prediction to the label, the smaller the loss: predicting 0.8 for a label of 1
# costs 0.2231, predicting 0.2 costs 1.6094, a far heavier penalty than the difference of 0.6
# would suggest.

# %% [markdown]
# ## 5. 学习时长与通过考试 · Hours studied and passing the exam
#
# 课上的数据：学 1、2 小时没通过，学 3 小时通过了（`LogisticToyDataModule`）。
# zoo 的 `LogisticRegression` 的 `forward` 返回 logit w·x + b，
# 概率由 `probabilities()`（sigmoid）给出；
# 这里照课上的写法，sigmoid 之后接求和的 `nn.BCELoss`，
# SGD 学习率 0.01，训练 1000 个 epoch。
# zoo 训练时用的 `binary_cross_entropy_with_logits` 把 sigmoid 合进损失，数值相同，
# 但 logit 很大时不会因为 log(0) 溢出。
#
# The course's data: 1 and 2 hours of study failed, 3 hours passed (`LogisticToyDataModule`).
# The `forward` of zoo's `LogisticRegression` returns the logit w·x + b, and `probabilities()`
# (a sigmoid) gives the probability; here, as in the course, the sigmoid is followed by a summed
# `nn.BCELoss`, with SGD at learning rate 0.01 for 1000 epochs. The
# `binary_cross_entropy_with_logits` that zoo trains with folds the sigmoid into the loss: the
# same value, but no overflow of log(0) when the logit is large.

# %%
data = LogisticToyDataModule()
hours, passed = data.x, data.y.view(-1, 1)  # targets as (N, 1), the shape of the output
torch.manual_seed(0)
model = LogisticRegression()
criterion = nn.BCELoss(reduction="sum")
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
losses = []
for _ in range(1000):
    probability = torch.sigmoid(model(hours))
    loss = criterion(probability, passed)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())

w, b = model.linear.weight.item(), model.linear.bias.item()
with torch.no_grad():
    logits = model(hours)
    plain = criterion(torch.sigmoid(logits), passed).item()
    fused = F.binary_cross_entropy_with_logits(logits, passed, reduction="sum").item()
    print(f"w = {w:.4f}, b = {b:.4f}; BCELoss after sigmoid {plain:.6f}, on the logits {fused:.6f}")
    print(f"P(pass) after 4 hours: {model.probabilities(model(torch.tensor([[4.0]]))).item():.3f}")
print(f"P(pass) = 0.5 at w·x + b = 0, that is after {-b / w:.2f} hours")
assert losses[-1] < losses[-2]  # still falling, as the text below says

grid = torch.linspace(0, 10, 200).unsqueeze(1)
with torch.no_grad():
    curve = model.probabilities(model(grid))
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
left.plot(grid, curve, label="P(pass | hours)")
left.scatter(hours, passed, color="tab:red", zorder=3, label="course data")
left.axhline(0.5, color="grey", linestyle="--", linewidth=1)
left.axvline(-b / w, color="grey", linestyle=":", linewidth=1)
left.set(title="Logistic regression on the course's data", xlabel="Hours",
         ylabel="Probability of Pass")  # fmt: skip
left.grid(alpha=0.3)
left.legend()
right.plot(losses)
right.set(title="Summed BCE per epoch (SGD, lr = 0.01)", xlabel="epoch", ylabel="loss")
plt.show()

# %% [markdown]
# 学得越久、通过的概率越高，曲线在上面打印的时长处穿过 0.5：
# 超过它模型就判"通过"。1000 个 epoch 后损失还在下降，
# 三个点线性可分，继续训练 w 会越来越大、曲线越来越陡。
#
# The longer the study, the higher the probability of passing; the curve crosses 0.5 at the
# number of hours printed above, beyond which the model says "pass". The loss is still falling
# after 1000 epochs: the three points are linearly separable, so further training keeps growing
# w and making the curve steeper.

# %% [markdown]
# ## 在 zoo 里 · In zoo
#
# - `zoo.LogisticRegression`：本讲的模型；
#   `zoo.BinaryClassifier` 提供 BCE（带 logit）、准确率和 sigmoid 概率。
#   This lecture's model; `zoo.BinaryClassifier` supplies BCE on the logit, accuracy and the
#   sigmoid probabilities.
# - `zoo.LogisticToyDataModule`：学习时长与是否通过的三个点。The course's three points.
# - `recipes/logistic_regression.yaml`：`zoo fit --config recipes/logistic_regression.yaml`。
#   The same model trained from the command line.
# - `zoo.MNISTDataModule`：离线的真实 MNIST，目录结构与 torchvision 相同；
#   第 9 讲的 `zoo.SoftmaxMNIST` 用它做多分类。
#   The real MNIST offline, in torchvision's layout; lecture 9's `zoo.SoftmaxMNIST` classifies it.
