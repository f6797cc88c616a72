"""The dynamic batcher on its own: batches what is queued together, never makes a lone item wait,
waits for announced items, keeps order, isolates nothing it should not, and drains on close."""

from __future__ import annotations

import threading
import time
from concurrent.futures import CancelledError, Future

import pytest

from zoo.serve.batching import Batcher, BatcherClosed


class Recorder:
    """A run function that records each batch it gets and answers item × 10."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.delay_s = delay_s
        self.started = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def __call__(self, items: list[int]) -> list[int]:
        self.started.set()
        self.release.wait(10)
        time.sleep(self.delay_s)
        self.batches.append(list(items))
        return [item * 10 for item in items]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def test_items_queued_while_a_batch_runs_go_together(recorder: Recorder) -> None:
    batcher = Batcher(recorder, max_batch=8, wait_s=0)
    try:
        recorder.release.clear()
        first = batcher.submit(0)
        assert recorder.started.wait(5)  # the worker is busy with [0]
        futures = [batcher.submit(i) for i in range(1, 20)]
        recorder.release.set()
        assert first.result(5) == 0
        assert [f.result(5) for f in futures] == [i * 10 for i in range(1, 20)]
    finally:
        batcher.close()
    assert recorder.batches[0] == [0]
    assert recorder.batches[1:] == [list(range(1, 9)), list(range(9, 17)), [17, 18, 19]]
    stats = batcher.stats()
    assert (stats.batches, stats.items, stats.largest) == (4, 20, 8)


def test_a_lone_item_does_not_wait(recorder: Recorder) -> None:
    batcher = Batcher(recorder, max_batch=64, wait_s=5.0)
    try:
        started = time.monotonic()
        assert batcher.submit(7).result(10) == 70
        assert time.monotonic() - started < 2.5  # far below the 5 s it may wait for company
    finally:
        batcher.close()


def test_a_started_batch_waits_for_items_announced_as_coming(recorder: Recorder) -> None:
    batcher = Batcher(recorder, max_batch=64, wait_s=5.0)
    try:
        with batcher.coming() as submit_late:
            early = batcher.submit(1)
            time.sleep(0.3)  # the batch holding 1 has started, and waits for the announced one
            late = submit_late(2)
        assert (early.result(10), late.result(10)) == (10, 20)
        assert recorder.batches == [[1, 2]]
    finally:
        batcher.close()


def test_an_announcement_withdrawn_stops_the_wait(recorder: Recorder) -> None:
    batcher = Batcher(recorder, max_batch=64, wait_s=5.0)
    try:
        started = time.monotonic()
        with batcher.coming():
            future = batcher.submit(3)
            time.sleep(0.2)
        # Leaving the block without submitting (the image could not be used) ends the wait.
        assert future.result(10) == 30
        assert time.monotonic() - started < 2.5
    finally:
        batcher.close()


def test_a_failing_batch_fails_its_items_and_the_next_batch_runs() -> None:
    def run(items: list[int]) -> list[int]:
        if 13 in items:
            raise ValueError("unlucky")
        return items

    batcher = Batcher(run, max_batch=1, wait_s=0)
    try:
        bad, good = batcher.submit(13), batcher.submit(14)
        with pytest.raises(ValueError, match="unlucky"):
            bad.result(5)
        assert good.result(5) == 14
    finally:
        batcher.close()


def test_a_run_giving_the_wrong_number_of_outputs_is_an_error() -> None:
    batcher = Batcher(lambda items: items[:-1], max_batch=4, wait_s=0)
    try:
        with pytest.raises(RuntimeError, match="0 outputs for 1 items"):
            batcher.submit(1).result(5)
    finally:
        batcher.close()


def test_cancelled_items_are_left_out(recorder: Recorder) -> None:
    batcher = Batcher(recorder, max_batch=8, wait_s=0)
    try:
        recorder.release.clear()
        batcher.submit(0)
        assert recorder.started.wait(5)
        gone: Future[int] = batcher.submit(1)
        kept = batcher.submit(2)
        assert gone.cancel()  # its client left while it was queued
        recorder.release.set()
        assert kept.result(5) == 20
        with pytest.raises(CancelledError):
            gone.result(0)
    finally:
        batcher.close()
    assert recorder.batches == [[0], [2]]


def test_close_runs_what_is_queued_then_refuses() -> None:
    recorder = Recorder(delay_s=0.05)
    batcher = Batcher(recorder, max_batch=2, wait_s=0)
    futures = [batcher.submit(i) for i in range(6)]
    batcher.close(timeout_s=10)
    assert [f.result(0) for f in futures] == [0, 10, 20, 30, 40, 50]
    with pytest.raises(BatcherClosed):
        batcher.submit(9)


@pytest.mark.parametrize(("max_batch", "wait_s"), [(0, 0.0), (4, -1.0), (4, 11.0)])
def test_bad_settings_are_refused(max_batch: int, wait_s: float) -> None:
    with pytest.raises(ValueError):
        Batcher(lambda items: items, max_batch=max_batch, wait_s=wait_s)
