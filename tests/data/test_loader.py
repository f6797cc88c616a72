"""TensorBatchLoader: seeded order, exact mid-epoch resume, disjoint DDP shards."""

from __future__ import annotations

import pytest
import torch

from zoo.data import TensorBatchLoader


def _loader(**kwargs) -> TensorBatchLoader:
    data = torch.arange(100)
    return TensorBatchLoader((data, data * 10), batch_size=8, **kwargs)


def _epoch(loader: TensorBatchLoader, epoch: int) -> list[list[int]]:
    loader.sampler.set_epoch(epoch)
    return [batch[0].tolist() for batch in loader]


def test_sequential_loader_covers_everything_in_order() -> None:
    loader = _loader()
    batches = _epoch(loader, 0)
    assert len(batches) == len(loader) == 13
    assert [i for b in batches for i in b] == list(range(100))
    x, y = next(iter(loader))
    assert torch.equal(y, x * 10)


def test_shuffle_is_seeded_and_changes_each_epoch() -> None:
    a, b = _loader(shuffle=True, seed=3), _loader(shuffle=True, seed=3)
    assert _epoch(a, 0) == _epoch(b, 0)
    assert _epoch(a, 0) != _epoch(a, 1)
    assert _epoch(a, 0) != _epoch(_loader(shuffle=True, seed=4), 0)


def test_drop_last_drops_the_partial_batch() -> None:
    loader = _loader(drop_last=True)
    assert len(loader) == 12
    assert all(len(b) == 8 for b in _epoch(loader, 0))


def test_resume_mid_epoch_yields_exactly_the_remaining_batches() -> None:
    reference = _epoch(_loader(shuffle=True, seed=7), 2)
    interrupted = _loader(shuffle=True, seed=7)
    interrupted.sampler.set_epoch(2)
    iterator = iter(interrupted)
    seen = [next(iterator)[0].tolist() for _ in range(5)]
    state = interrupted.state_dict()
    assert state == {"epoch": 2, "position": 5}

    resumed = _loader(shuffle=True, seed=7)
    resumed.load_state_dict(state)
    resumed.sampler.set_epoch(2)
    assert seen + [b[0].tolist() for b in resumed] == reference
    assert _epoch(resumed, 3) == _epoch(_loader(shuffle=True, seed=7), 3), "next epoch is whole"


def test_resume_from_a_finished_epoch_starts_the_next_one_whole() -> None:
    loader = _loader(shuffle=True)
    _epoch(loader, 0)
    resumed = _loader(shuffle=True)
    resumed.load_state_dict(loader.state_dict())
    assert _epoch(resumed, 1) == _epoch(_loader(shuffle=True), 1)


def test_batch_seeds_differ_per_batch_and_epoch_and_repeat_on_rerun() -> None:
    loader = _loader(shuffle=True, batch_seeds=True)
    seeds = [b[-1] for b in loader]
    assert len(set(seeds)) == len(seeds)
    assert seeds == [b[-1] for b in loader]
    loader.sampler.set_epoch(1)
    assert not set(seeds) & {b[-1] for b in loader}


@pytest.mark.parametrize("world_size", [2, 3])
def test_ranks_get_disjoint_shards_that_cover_the_data(world_size: int) -> None:
    flat = [
        i
        for rank in range(world_size)
        for batch in _epoch(_loader(shuffle=True, rank=rank, world_size=world_size), 0)
        for i in batch
    ]
    assert sorted(flat) == list(range(100)), "every sample exactly once"


def test_mismatched_tensors_and_bad_batch_size_are_rejected() -> None:
    with pytest.raises(ValueError, match="same length"):
        TensorBatchLoader((torch.zeros(3), torch.zeros(4)), batch_size=2)
    with pytest.raises(ValueError, match="positive"):
        TensorBatchLoader((torch.zeros(3),), batch_size=0)
