"""Every registered model: the course's parameter counts, shapes, learning, clear input errors."""

from __future__ import annotations

import lightning as L
import pytest
import torch

import zoo
from zoo.hub import create_model
from zoo.models import ImageClassifier, model_info, model_names

PARAMS = {
    "linear_regression": 2,
    "logistic_regression": 2,
    "multifeature_mlp": 87,
    "softmax_mnist": 575_050,
    "cnn_mnist": 8_490,
    "inception_mnist": 97_298,
    "resnet_mnist": 41_514,
    # He et al. 2016, Table 6: 0.27M, 0.46M, 0.66M, 0.85M, 1.7M.
    "resnet20_cifar10": 269_722,
    "resnet32_cifar10": 464_154,
    "resnet44_cifar10": 658_586,
    "resnet56_cifar10": 853_018,
    "resnet110_cifar10": 1_727_962,
    "cnn_cifar10": 10_790,
}


def num_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def example_input(model: zoo.models.ZooModule, n: int = 8) -> torch.Tensor:
    if isinstance(model, ImageClassifier):
        return torch.randn(n, *model.input_shape)
    return torch.randn(n, getattr(model.hparams, "in_features", 1))


def test_every_model_is_counted() -> None:
    assert set(model_names()) == set(PARAMS)


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_parameter_count_matches_the_course(name: str) -> None:
    assert num_params(create_model(name)) == PARAMS[name]


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_forward_gives_one_output_row_per_sample(name: str) -> None:
    model = create_model(name)
    out = model(example_input(model, n=3))
    width = model.num_classes if isinstance(model, ImageClassifier) else 1
    assert out.shape == (3, width)


def test_resnet_cifar_rounds_paper_parameter_counts() -> None:
    assert round(num_params(create_model("resnet20_cifar10")) / 1e6, 2) == 0.27
    assert round(num_params(create_model("resnet56_cifar10")) / 1e6, 2) == 0.85


@pytest.mark.parametrize("depth", [0, 19, 21])
def test_resnet_cifar_rejects_depths_that_are_not_6n_plus_2(depth: int) -> None:
    with pytest.raises(ValueError, match="6n\\+2"):
        zoo.ResNetCIFAR(depth=depth)


def _labels_for(model: zoo.models.ZooModule, n: int) -> torch.Tensor:
    if isinstance(model, ImageClassifier):
        return torch.randint(0, model.num_classes, (n,))
    if isinstance(model, zoo.models.BinaryClassifier):
        return torch.randint(0, 2, (n,)).float()
    return torch.randn(n, 1)


@pytest.mark.parametrize("name", ["softmax_mnist", "cnn_mnist", "inception_mnist", "resnet_mnist",
                                  "cnn_cifar10", "resnet20_cifar10", "multifeature_mlp",
                                  "linear_regression", "logistic_regression"])  # fmt: skip
def test_model_overfits_a_tiny_batch(name: str, one_thread) -> None:
    torch.manual_seed(0)
    model = create_model(name, optimizer="adam", lr=0.003)
    x = example_input(model, n=16)
    y = _labels_for(model, 16)
    optimizer = model.configure_optimizers()
    first = model.loss(model(x), y).item()
    for _ in range(200):
        loss = model.loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < first
    if isinstance(model, ImageClassifier):
        assert (model(x).argmax(1) == y).all(), "should memorise 16 samples"


def test_a_training_step_lowers_the_loss_through_lightning_hooks() -> None:
    torch.manual_seed(0)
    model = zoo.CNNMNIST(lr=0.05, momentum=0.9)
    batch = (torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,)))
    optimizer = model.configure_optimizers()
    before = model.loss(model(batch[0]), batch[1]).item()
    for _ in range(5):
        optimizer.zero_grad()
        model.training_step(batch, 0).backward()
        optimizer.step()
    assert model.loss(model(batch[0]), batch[1]).item() < before


def test_predict_step_returns_probabilities() -> None:
    model = zoo.ResNetMNIST().eval()
    probs = model.predict_step((torch.randn(4, 1, 28, 28), torch.zeros(4)), 0)
    assert probs.shape == (4, 10)
    torch.testing.assert_close(probs.sum(1), torch.ones(4))
    binary = zoo.LogisticRegression().predict_step(torch.tensor([[1.0], [4.0]]), 0)
    assert ((binary > 0) & (binary < 1)).all()


@pytest.mark.parametrize(
    ("shape", "hint"),
    [((2, 3, 28, 28), "greyscale"), ((2, 1, 32, 32), "28×28"), ((1, 28, 28), "unsqueeze")],
)
def test_mnist_model_rejects_wrong_shapes_with_a_clear_error(shape: tuple, hint: str) -> None:
    with pytest.raises(ValueError, match=hint) as err:
        zoo.ResNetMNIST()(torch.randn(*shape))
    assert "(N, 1, 28, 28)" in str(err.value)


def test_cifar_model_rejects_mnist_images() -> None:
    with pytest.raises(ValueError, match=r"\(N, 3, 32, 32\)"):
        zoo.ResNetCIFAR()(torch.randn(2, 1, 28, 28))


def test_uint8_images_are_rejected_with_a_hint_to_preprocess() -> None:
    with pytest.raises(ValueError, match="preprocess"):
        zoo.CNNMNIST()(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))


def test_a_batch_of_another_dtype_is_one_clear_error() -> None:
    model = zoo.CNNMNIST()
    with pytest.raises(ValueError, match=r"float32 weights, got a torch.float64 batch.*x.to"):
        model(torch.zeros(2, 1, 28, 28, dtype=torch.float64))
    with torch.autocast("cpu", dtype=torch.bfloat16):  # autocast casts for itself
        assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert model.double()(torch.zeros(2, 1, 28, 28, dtype=torch.float64)).dtype == torch.float64


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"optimizer": "rmsprop"}, "optimizer"), ({"scheduler": "step"}, "scheduler"),
     ({"lr": 0.0}, "lr"), ({"lr": float("nan")}, "lr"), ({"momentum": -5}, "momentum"),
     ({"weight_decay": -1e-4}, "weight_decay"), ({"label_smoothing": 3}, "label_smoothing"),
     ({"label_smoothing": 1.0}, "label_smoothing")],
)  # fmt: skip
def test_bad_hyperparameters_fail_at_construction(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        zoo.CNNMNIST(**kwargs)


def test_unknown_model_name_lists_the_valid_ones() -> None:
    with pytest.raises(KeyError, match="resnet_mnist"):
        create_model("resnet_mnst")


def test_registry_records_lecture_and_dataset() -> None:
    info = model_info("resnet_mnist")
    assert info.cls is zoo.ResNetMNIST
    assert info.dataset == "MNIST"
    assert "11" in info.lecture
    assert model_info("resnet56_cifar10").create().hparams.depth == 56


@pytest.mark.parametrize("scheduler", ["onecycle", "cosine"])
def test_schedulers_step_per_batch(scheduler: str, tmp_path) -> None:
    torch.manual_seed(0)
    x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    loader = zoo.data.TensorBatchLoader((x, y), batch_size=16)
    model = zoo.CNNMNIST(scheduler=scheduler, lr=0.1)
    trainer = L.Trainer(
        max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.fit(model, train_dataloaders=loader)
    lr = trainer.optimizers[0].param_groups[0]["lr"]
    assert lr < 0.01, f"{scheduler} should have annealed the rate by the last step, got {lr}"


def test_hyperparameters_round_trip_through_a_checkpoint(tmp_path) -> None:
    model = zoo.ResNetCIFAR(depth=32, lr=0.2, label_smoothing=0.1)
    trainer = L.Trainer(accelerator="cpu", logger=False, default_root_dir=tmp_path)
    trainer.strategy.connect(model)
    path = tmp_path / "m.ckpt"
    trainer.save_checkpoint(path)
    restored = zoo.ResNetCIFAR.load_from_checkpoint(path, weights_only=True)
    assert restored.hparams.depth == 32
    assert restored.hparams.lr == 0.2
    assert num_params(restored) == PARAMS["resnet32_cifar10"]
    for a, b in zip(model.state_dict().values(), restored.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)


def test_resnet_mnist_pooling_before_relu_matches_the_course_order_exactly() -> None:
    torch.manual_seed(0)
    model = zoo.ResNetMNIST()
    x = torch.randn(16, 1, 28, 28, requires_grad=True)

    def course_forward(m: zoo.ResNetMNIST, x: torch.Tensor) -> torch.Tensor:
        x = m.mp(torch.relu(m.conv1(x)))
        x = m.rblock1(x)
        x = m.mp(torch.relu(m.conv2(x)))
        return m.fc(m.rblock2(x).flatten(1))

    ours, course = model(x), course_forward(model, x)
    assert torch.equal(ours, course)
    grads = [torch.autograd.grad(out.sum(), x)[0] for out in (ours, course)]
    assert torch.equal(*grads)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
def test_optimizers_use_fused_kernels_on_cpu(optimizer: str) -> None:
    built = create_model("cnn_mnist", optimizer=optimizer).optimizer_config(10)
    assert built.defaults["fused"] is True
