"""Dynamic batching for `zoo serve`: what many requests submit at once runs as one batch.

Written here rather than taken from a library because what it does is this server's own: the
serving engine (FastAPI on uvicorn) has no batching, and LitServe's, which we measured, decodes
requests inside the batch, where one bad image fails every request batched with it (see
`zoo.serve.server`). The rule is a serving system's usual one (Triton's "max queue delay"),
plus one thing only the server knows: how many requests are still preparing their images.

A batch starts as soon as the worker thread is free and an item is queued. It then waits up to
`wait_s` for more, but only while requests announced with `coming()` are still on their way:
a lone request never waits, and requests that arrive together share one forward per model.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


class BatcherClosed(RuntimeError):
    """Raised by `submit` once `close` has been called."""


@dataclass(frozen=True)
class BatchStats:
    """What a batcher has run so far, and what waits now."""

    batches: int
    items: int
    largest: int
    queued: int
    coming: int


class Batcher(Generic[In, Out]):
    """Runs `run` on batches of the items submitted, on one worker thread.

    Args:
        run: turns a list of items into one output per item, in order.
        max_batch: the most items in one batch.
        wait_s: the longest the first item of a batch waits for company (only while announced
            items are still coming).
        name: the worker thread's name.
    """

    def __init__(
        self,
        run: Callable[[list[In]], Sequence[Out]],
        max_batch: int = 64,
        wait_s: float = 0.002,
        name: str = "zoo-batcher",
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        if not 0 <= wait_s <= 10:
            raise ValueError(f"wait_s must be between 0 and 10 seconds, got {wait_s}")
        self.run = run
        self.max_batch = max_batch
        self.wait_s = wait_s
        self._condition = threading.Condition()
        self._queue: deque[tuple[In, Future[Out]]] = deque()
        self._coming = 0
        self._closed = False
        self._batches = self._items = self._largest = 0
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    @contextlib.contextmanager
    def coming(self) -> Iterator[Callable[[In], Future[Out]]]:
        """Announce an item still being prepared; yields the `submit` to hand it in with.

        While announced items are coming, a batch that has started waits (up to `wait_s`) for
        them; leaving the block without submitting withdraws the announcement.
        """
        submitted = False

        def submit(item: In) -> Future[Out]:
            nonlocal submitted
            if submitted:
                raise RuntimeError("this announced item was already submitted")
            submitted = True
            return self._put(item, announced=True)

        with self._condition:
            self._coming += 1
        try:
            yield submit
        finally:
            if not submitted:
                with self._condition:
                    self._coming -= 1
                    self._condition.notify_all()

    def submit(self, item: In) -> Future[Out]:
        """Queue `item`; the future gets its output, or the exception its batch raised."""
        return self._put(item, announced=False)

    def _put(self, item: In, announced: bool) -> Future[Out]:
        future: Future[Out] = Future()
        with self._condition:
            if announced:
                self._coming -= 1
            if self._closed:
                raise BatcherClosed("the server is shutting down")
            self._queue.append((item, future))
            self._condition.notify_all()
        return future

    def stats(self) -> BatchStats:
        """Batches and items run so far, the largest batch, and what waits now."""
        with self._condition:
            return BatchStats(
                self._batches, self._items, self._largest, len(self._queue), self._coming
            )

    def close(self, timeout_s: float | None = None) -> None:
        """Refuse new items, run those queued, and stop the worker thread."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        self._thread.join(timeout_s)

    def _work(self) -> None:
        while batch := self._next_batch():
            self._run(batch)

    def _next_batch(self) -> list[tuple[In, Future[Out]]]:
        with self._condition:
            while not self._queue and not self._closed:
                self._condition.wait()
            deadline = time.monotonic() + self.wait_s
            while len(self._queue) < self.max_batch and self._coming > 0 and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._condition.wait(left)
            size = min(len(self._queue), self.max_batch)
            return [self._queue.popleft() for _ in range(size)]

    def _run(self, batch: list[tuple[In, Future[Out]]]) -> None:
        # A request whose client left has cancelled its future: leave its item out.
        batch = [(item, f) for item, f in batch if f.set_running_or_notify_cancel()]
        if not batch:
            return
        try:
            outputs = self.run([item for item, _ in batch])
            if len(outputs) != len(batch):
                raise RuntimeError(f"run gave {len(outputs)} outputs for {len(batch)} items")
        except Exception as error:
            for _, future in batch:
                future.set_exception(error)
            return
        for (_, future), output in zip(batch, outputs, strict=True):
            future.set_result(output)
        with self._condition:
            self._batches += 1
            self._items += len(batch)
            self._largest = max(self._largest, len(batch))
