# %% [markdown]
# # 第4讲 反向传播 · Lecture 4: Back propagation
#
# 模型一复杂，手推梯度公式就不现实了。
# 本讲把计算写成计算图，前向时逐个节点算出数值，反向时用链式法则把每个节点的局部梯度乘起来；
# PyTorch 的 autograd 自动完成这件事：`requires_grad` 让张量记录运算，`backward()` 沿图反向求导，
# 结果累加在 `.grad` 里，所以每步之后要清零。
# 最后说明为什么光把线性层叠起来没有用，必须加入非线性函数。
#
# Deriving gradient formulas by hand stops being practical once a model gets complicated. The
# lecture writes the computation as a graph: the forward pass computes each node's value, and the
# backward pass multiplies the local gradients of the nodes together by the chain rule. PyTorch's
# autograd does this for you: `requires_grad` makes a tensor record the operations on it,
# `backward()` walks the graph back, and the gradients add up in `.grad`, which therefore has to
# be zeroed after each step. Finally, why stacking linear layers alone gains nothing, and a
# non-linearity is needed.

# %%
import matplotlib.pyplot as plt
import torch
from torch import nn

from zoo.course import (
    autograd_gradient,
    hand_gradient,
    quadratic_autograd_gradients,
    quadratic_hand_gradients,
    train_linear,
    train_quadratic,
)

# %% [markdown]
# ## 1. 计算图与链式法则 · The computational graph and the chain rule
#
# 课后练习：模型 ŷ = x·w，损失 loss = (ŷ − y)²，取 x = 2、y = 4、w = 1。
# 前向依次算 ŷ、r = ŷ − y 和 loss；
# 反向从 ∂loss/∂loss = 1 出发，每经过一个节点就乘上它的局部梯度：
# ∂loss/∂r = 2r，∂r/∂ŷ = 1，∂ŷ/∂w = x。
#
# The course's exercise: the model ŷ = x·w and the loss (ŷ − y)², at x = 2, y = 4, w = 1. The
# forward pass computes ŷ, r = ŷ − y and the loss in turn; the backward pass starts from
# ∂loss/∂loss = 1 and multiplies in each node's local gradient on the way back:
# ∂loss/∂r = 2r, ∂r/∂ŷ = 1, ∂ŷ/∂w = x.

# %%
x, y, w = 2.0, 4.0, 1.0
# Forward: one node at a time.
y_hat = x * w
r = y_hat - y
loss = r**2
# Backward: the chain rule, one local gradient at a time.
d_r = 2 * r  # ∂loss/∂r
d_y_hat = d_r * 1.0  # ∂r/∂ŷ = 1
d_w = d_y_hat * x  # ∂ŷ/∂w = x
print(f"forward:  y_hat = {y_hat:g}, r = {r:g}, loss = {loss:g}")
print(f"backward: dloss/dr = {d_r:g}, dloss/dy_hat = {d_y_hat:g}, dloss/dw = {d_w:g}")
print(f"zoo's hand_gradient (2x(xw - y)): {hand_gradient(x, y, w):g}")
print(f"zoo's autograd_gradient:          {autograd_gradient(x, y, w):g}")
assert d_w == hand_gradient(x, y, w) == autograd_gradient(x, y, w)

# %%
fig, ax = plt.subplots(figsize=(10, 3.6), layout="constrained")
nodes = {
    "x": (0.0, 1.4), "w": (0.0, 0.0), "×": (2.0, 0.7), "y": (2.0, -0.9), "−": (4.0, 0.7),
    "²": (6.0, 0.7), "loss": (8.0, 0.7),
}  # fmt: skip
for name, (px, py) in nodes.items():
    operation = name in ("×", "−", "²")
    ax.text(px, py, name, ha="center", va="center", fontsize=14,
            bbox={"boxstyle": "circle" if operation else "round", "fc": "#fff3d6" if operation
                  else "#e8f0fe", "ec": "grey"})  # fmt: skip
edges = [
    ("x", "×", f"x = {x:g}", ""),
    ("w", "×", f"w = {w:g}", f"∂loss/∂w = {d_w:g}"),
    ("×", "−", f"ŷ = {y_hat:g}", f"∂loss/∂ŷ = {d_y_hat:g}"),
    ("y", "−", f"y = {y:g}", ""),
    ("−", "²", f"r = {r:g}", f"∂loss/∂r = {d_r:g}"),
    ("²", "loss", f"loss = {loss:g}", "∂loss/∂loss = 1"),
]
for start, end, forward_label, backward_label in edges:
    (x0, y0), (x1, y1) = nodes[start], nodes[end]
    arrow = {"arrowstyle": "->", "shrinkA": 16, "shrinkB": 16, "color": "grey"}
    ax.annotate("", (x1, y1), (x0, y0), arrowprops=arrow)
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    ax.text(mx, my + 0.2, forward_label, ha="center", color="tab:blue", fontsize=10)
    ax.text(mx, my - 0.3, backward_label, ha="center", color="tab:red", fontsize=10)
local_gradients = {"×": f"∂ŷ/∂w = x = {x:g}", "−": "∂r/∂ŷ = 1", "²": f"∂loss/∂r = 2r = {d_r:g}"}
for name, text in local_gradients.items():
    ax.text(nodes[name][0], nodes[name][1] + 0.45, text, ha="center", color="dimgrey", fontsize=9)
ax.set(xlim=(-0.6, 8.6), ylim=(-1.3, 1.9))
ax.set_title("Forward values (blue), local gradients (grey), backward gradients (red)")
ax.axis("off")
plt.show()

# %% [markdown]
# 二次模型 ŷ = w₁x² + w₂x + b 也一样：记 r = ŷ − y，三个参数的梯度分别是 2r·x²、2r·x 和 2r。
# 下面在几个点上把手推结果和 autograd 对比。
#
# The quadratic model ŷ = w₁x² + w₂x + b works the same way: with r = ŷ − y, the gradients of
# its three parameters are 2r·x², 2r·x and 2r. Below, the hand results are checked against
# autograd at a few points.

# %%
for point in [(1.0, 2.0, 1.0, 1.0, 1.0), (3.0, 6.0, 0.5, -1.0, 2.0), (-2.0, 1.0, 0.1, 0.3, 0.0)]:
    by_hand = quadratic_hand_gradients(*point)
    by_autograd = quadratic_autograd_gradients(*point)
    hand_text = ", ".join(f"{g:.4g}" for g in by_hand)
    autograd_text = ", ".join(f"{g:.4g}" for g in by_autograd)
    print(f"x, y, w1, w2, b = {point}: hand ({hand_text}), autograd ({autograd_text})")
    assert torch.allclose(torch.tensor(by_hand), torch.tensor(by_autograd))

# %% [markdown]
# ## 2. autograd 的用法 · Using autograd
#
# 张量加上 `requires_grad=True` 后，对它的每一步运算都会被记进图里（`grad_fn`）；
# `backward()` 从标量损失出发沿图反向，把梯度**累加**进叶子张量的 `.grad`。
# 下面对同一个损失反向两次而不清零，梯度就变成了两倍，这就是训练循环里每步都要清零的原因。
# 更新参数时要绕开记录（课上用 `w.data`，也可以用 `torch.no_grad()`），
# 记录损失时用 `.item()` 取出数值，否则计算图会越积越大。
#
# Once a tensor has `requires_grad=True`, every operation on it is recorded in a graph
# (`grad_fn`); `backward()` starts from a scalar loss, walks the graph back and **adds** the
# gradient into `.grad` of the leaf tensors. Below, the same loss is back-propagated twice
# without zeroing, and the gradient doubles: that is why the training loop zeroes it every step.
# The update must not be recorded (the course writes `w.data`, `torch.no_grad()` does the same),
# and losses are kept with `.item()`, or the graph keeps growing.

# %%
w_t = torch.tensor([1.0], requires_grad=True)
loss_t = (x * w_t - y) ** 2
print("loss:", loss_t, " requires_grad:", loss_t.requires_grad)
node, chain = loss_t.grad_fn, []
while node is not None:  # walk the recorded graph from the loss back to w
    chain.append(type(node).__name__)
    node = node.next_functions[0][0] if node.next_functions else None
print("recorded graph, loss back to w:", " -> ".join(chain))

loss_t.backward(retain_graph=True)  # keep the graph to run backward through it once more
print("after one backward():  w.grad =", w_t.grad.item())
loss_t.backward()
print("after a second one:    w.grad =", w_t.grad.item(), "(accumulated)")
w_t.grad.zero_()
print("after w.grad.zero_():  w.grad =", w_t.grad.item())
assert w_t.grad.item() == 0.0

# %% [markdown]
# 把这些拼起来就是课上的训练循环（zoo 的 `train_linear` 与 `train_quadratic`）：
# 每个样本前向、`backward()`、`w.data -= lr * w.grad.data`、`w.grad.data.zero_()`。
#
# Put together, this is the course's training loop (zoo's `train_linear` and `train_quadratic`):
# for each sample, forward, `backward()`, `w.data -= lr * w.grad.data`, `w.grad.data.zero_()`.

# %%
linear = train_linear(lr=0.01, epochs=100)
quadratic = train_quadratic(lr=0.01, epochs=100)
print(f"y = w*x:             w = {linear.w:.4f}; prediction for x = 4: {linear.predict(4.0):.4f}")
print(f"y = w1*x^2 + w2*x + b: w1 = {quadratic.w1:.4f}, w2 = {quadratic.w2:.4f}, "
      f"b = {quadratic.b:.4f}; prediction for x = 4: {quadratic.predict(4.0):.4f}")  # fmt: skip
print(f"final losses: {linear.losses[-1]:.1e} and {quadratic.losses[-1]:.1e}")
assert abs(quadratic.predict(4.0) - 8.0) > 0.1 and quadratic.losses[-1] < 0.1  # as the text says

fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
ax.semilogy(linear.losses, label="y = w*x")
ax.semilogy(quadratic.losses, label="y = w1*x^2 + w2*x + b")
ax.set(title="Training with autograd (lr = 0.01)", xlabel="epoch", ylabel="mean sample loss")
ax.legend()
plt.show()

# %% [markdown]
# 三个点恰好在 y = 2x 上，最好的二次拟合是 w₁ = 0、w₂ = 2、b = 0。
# 二次模型的损失也降得很低，可参数离这个解还有距离、对 x = 4 的预测也偏离 8：
# x² 这一项比其他项大得多，代价函数成了一道又长又窄的山谷，损失下降快，参数走得慢。
#
# The three points lie exactly on y = 2x, so the best quadratic fit is w₁ = 0, w₂ = 2, b = 0.
# The quadratic model's loss also gets low, yet its parameters are still some way from that fit
# and its prediction for x = 4 is off 8: the x² feature is much larger than the others, which
# makes the cost a long, narrow valley in which the loss falls fast and the parameters move
# slowly.

# %% [markdown]
# ## 3. 为什么需要非线性 · Why a non-linearity is needed
#
# 两个线性层相叠：W₂(W₁x + b₁) + b₂ = (W₂W₁)x + (W₂b₁ + b₂)，仍是一个线性层。
# 无论叠多少层、参数有多少，整个网络都能合并成一个矩阵加一个偏置。
# 下面把三层 `nn.Linear` 真的合并起来，比较输出；再在层间加上 sigmoid 或 ReLU，
# 看最好的单个线性层（最小二乘拟合）还能不能逼近它。
#
# Two linear layers in a row: W₂(W₁x + b₁) + b₂ = (W₂W₁)x + (W₂b₁ + b₂), again one linear layer.
# However many layers are stacked and however many parameters they have, the whole network
# merges into one matrix and one bias. Below, three `nn.Linear` layers are actually merged and
# the outputs compared; then sigmoids or ReLUs go between the layers, and the best single linear
# layer (a least-squares fit) is asked to match that.

# %%
torch.manual_seed(0)
layers = [nn.Linear(3, 8), nn.Linear(8, 8), nn.Linear(8, 2)]
stack = nn.Sequential(*layers)


def with_activation(activation):
    """The same three layers with `activation` after the first two."""
    return nn.Sequential(layers[0], activation, layers[1], activation, layers[2])


with torch.no_grad():
    merged_weight = layers[2].weight @ layers[1].weight @ layers[0].weight
    merged_bias = layers[2].weight @ (layers[1].weight @ layers[0].bias + layers[1].bias)
    merged_bias += layers[2].bias
    inputs = torch.randn(1000, 3)
    gap = (stack(inputs) - (inputs @ merged_weight.T + merged_bias)).abs().max()

    def best_linear_error(network):
        """RMS error of the best affine map from `inputs` to the outputs, over their spread."""
        outputs = network(inputs).double()
        design = torch.cat([inputs, torch.ones(len(inputs), 1)], dim=1).double()
        solution = torch.linalg.lstsq(design, outputs).solution
        return ((design @ solution - outputs).pow(2).mean().sqrt() / outputs.std()).item()

    errors = {
        "linear layers only": best_linear_error(stack),
        "sigmoid in between": best_linear_error(with_activation(nn.Sigmoid())),
        "ReLU in between": best_linear_error(with_activation(nn.ReLU())),
    }

params = sum(p.numel() for p in stack.parameters())
print(f"three stacked layers: {params} parameters; merged: {merged_weight.shape} weight + bias")
print(f"largest difference, stack against its merged layer: {gap:.1e}")
print("error of the best single linear layer, relative to the spread of the outputs:")
for name, error in errors.items():
    print(f"  {name:18s} {error:.1e}")
assert gap < 1e-5 and errors["linear layers only"] < 1e-6
assert errors["sigmoid in between"] > 1e-3 and errors["ReLU in between"] > 0.1

# %%
torch.manual_seed(1)
deep = [nn.Linear(1, 16), nn.Linear(16, 16), nn.Linear(16, 1)]
grid = torch.linspace(-6, 6, 300).unsqueeze(1)
fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), layout="constrained")
for ax, activation, color in zip(axes, [None, nn.Sigmoid(), nn.ReLU()], ["tab:blue", "tab:orange",
                                 "tab:green"], strict=True):  # fmt: skip
    between = [] if activation is None else [activation]
    network = nn.Sequential(deep[0], *between, deep[1], *between, deep[2])
    with torch.no_grad():
        ax.plot(grid, network(grid), color=color)
    name = "no activation" if activation is None else f"{type(activation).__name__} in between"
    ax.set(title=f"1 → 16 → 16 → 1, {name}", xlabel="x", ylabel="output")
plt.show()

# %% [markdown]
# 合并后的单层与三层网络的输出只差浮点舍入误差，
# 上面那个参数不少的"深"网络只相当于一层 3 → 2 的线性层，参数个数见输出。
# 层间加了激活函数，最好的单个线性层也留下了远大于舍入误差的残差：
# 随机初始化的 sigmoid 大多工作在接近线性的中段，所以残差不大；ReLU 则差得多。
# 图里没有激活函数的网络只能画出直线，加了激活函数才会弯。
# 所以第 7 讲起每个线性层之后都跟一个激活函数。
#
# The merged single layer and the three-layer network differ only by floating-point rounding:
# the "deep" network above, for all its parameters (printed), is just one 3 → 2 linear layer.
# With activations in between, even the best single linear layer leaves a residual far above
# rounding: at a random initialisation the sigmoids mostly work in their nearly linear middle,
# so it stays small, while ReLU's is much larger. In the plots, the network without
# activations can only draw a straight line; with them, it bends. That is why, from lecture 7
# on, every linear layer is followed by an activation function.

# %% [markdown]
# ## 在 zoo 里 · In zoo
#
# - `zoo.course.autograd_gradient`、`zoo.course.hand_gradient`，
#   `zoo.course.quadratic_autograd_gradients`、`zoo.course.quadratic_hand_gradients`：
#   手推梯度与 autograd 的对照。
#   Hand-derived gradients and autograd, side by side.
# - `zoo.course.train_linear`、`zoo.course.train_quadratic`：本讲的训练循环。
#   The training loops of this lecture.
# - `zoo course lecture4 --lr 0.01 --epochs 100`：在命令行训练两个模型，
#   损失曲线写到 `runs/course/`。
#   Trains both models from the command line and writes the loss curves to `runs/course/`.
# - `zoo.MultiFeatureMLP`（第 7 讲）：线性层之间夹着激活函数的网络。
#   Lecture 7's network, with activations between its linear layers.
