"""The models of `zoo serve` in a process of their own, run on batches of prepared images.

Why a process: the small MNIST models spend much of a forward in Python between torch's kernels,
so in the server's process they need the interpreter lock just when the threads that parse HTTP
and decode images are busiest. Measured on 2 cores (4 alternating runs each, 1,000 requests):
128 clients got a median 609 answers/s with the models in their own process against 507 in a
thread of the server, and 3.1× the one-client rate against 2.3×; a batch crosses the socket as
one uint8 array (784 bytes an image) and comes back as one float32 array.

The worker is a child `python` running `child_main`, talking pickles over a socket pair: a
plain child process, not multiprocessing's spawn, which would re-run the parent's main script
in the child (any script without a `__main__` guard that starts a server). It runs in a session
of its own and ignores SIGINT and SIGTERM: Ctrl+C in a terminal (and many service managers)
signal a whole process group, and the server must still answer the requests in flight before
the worker goes. It stops when the server closes the socket, or exits.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from zoo.errors import EXIT_RUN_FAILED, RunFailed, fault_line
from zoo.weights.table import WeightTable

START_TIMEOUT_S = 300.0
# The child's program (-c rather than -m: running a module of a package already imported warns).
CHILD_MAIN = "import sys; from zoo.serve.worker import child_main; child_main(int(sys.argv[1]))"


class WorkerError(RunFailed):
    """The model process failed: it could not load the models, crashed, or a forward raised.

    Its exit status is that of the fault in the child: a corrupted weight file is the user's
    to fix (2), as the same fault in the server's own process is.
    """

    def __init__(self, what: str, fix: str = "", exit_code: int = EXIT_RUN_FAILED) -> None:
        super().__init__(what, fix)
        self.exit_code = exit_code


class ModelWorker:
    """Published models (by key) in a child process; `probabilities` runs them on a batch.

    Starting returns at once; the first call waits until the models are loaded. If the
    process dies, the call that saw it raises `WorkerError` and the next one starts a new one.

    Args:
        keys: the weights to load, `model.tag`.
        table: the published-weights table they come from.
        threads: torch threads in the child.
    """

    def __init__(self, keys: Sequence[str], table: WeightTable, threads: int = 1) -> None:
        self.keys = list(keys)
        self.table = table
        self.threads = threads
        self._lock = threading.Lock()  # one batch on the pipe at a time
        self._process: subprocess.Popen[bytes] | None = None
        self._connection: Connection | None = None
        self._ready = False
        self._start()

    def _start(self) -> None:
        parent, child = socket.socketpair()
        with child:
            self._process = subprocess.Popen(
                [sys.executable, "-c", CHILD_MAIN, str(child.fileno())],
                pass_fds=[child.fileno()],
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._connection = Connection(parent.detach())
        self._connection.send((self.keys, self.table, self.threads))
        self._ready = False

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Block until the models are loaded; `WorkerError` if the child could not load them."""
        with self._lock:
            self._wait_ready(timeout_s)

    def _wait_ready(self, timeout_s: float) -> None:
        if self._ready:
            return
        assert self._connection is not None
        if not self._connection.poll(timeout_s):
            raise WorkerError(f"the model process did not load the models in {timeout_s:g} s")
        status, detail = self._receive()
        if status != "ready":
            message, exit_code = detail
            raise WorkerError(f"the model process could not load the models: {message}",
                              exit_code=exit_code)  # fmt: skip
        self._ready = True

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """Every model's class probabilities, float32 (models, N, classes), for uint8 images
        (N, 28, 28) from `DigitApp.prepare`."""
        with self._lock:
            if self._connection is None:
                self._start()
            try:
                self._wait_ready(START_TIMEOUT_S)
                assert self._connection is not None
                self._connection.send(np.ascontiguousarray(images, dtype=np.uint8))
                status, detail = self._receive()
            except WorkerError:
                self._stop()
                raise
            if status != "ok":
                message, exit_code = detail
                raise WorkerError(f"a forward failed in the model process: {message}",
                                  exit_code=exit_code)  # fmt: skip
            return detail

    def _receive(self) -> tuple[str, Any]:
        assert self._connection is not None
        try:
            return self._connection.recv()
        except (EOFError, OSError):
            code = self._process.poll() if self._process else None
            raise WorkerError(f"the model process exited (status {code})") from None

    def _stop(self, timeout_s: float = 10) -> None:
        if self._connection is not None:
            self._connection.close()  # the child stops at the end of its socket
            self._connection = None
        if self._process is not None:
            try:
                self._process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout_s)
            self._process = None

    def close(self, timeout_s: float = 10) -> None:
        """Stop the child once it has answered the batch it is running."""
        with self._lock:
            self._stop(timeout_s)


def _serve(connection: Connection) -> None:
    try:
        keys, table, threads = connection.recv()
        import torch

        from zoo.inference.predict import Predictor

        torch.set_num_threads(threads)
        predictors = [Predictor.from_pretrained(key, table) for key in keys]
    except Exception as error:
        connection.send(("error", _explained(error)))
        return
    connection.send(("ready", None))
    while True:
        try:
            images = connection.recv()
        except (EOFError, OSError):
            return
        try:
            outputs = [p.probabilities(images).numpy() for p in predictors]
            reply: tuple[str, Any] = ("ok", np.stack(outputs).astype(np.float32, copy=False))
        except Exception as error:
            reply = ("error", _explained(error))
        try:
            connection.send(reply)
        except (EOFError, OSError):
            return


def _explained(error: Exception) -> tuple[str, int]:
    # A fault zoo explains (a corrupted weight file) crosses as its one line and exit status; a
    # bug as its traceback, which is what a report of it needs.
    fault = fault_line(error)
    if fault is not None:
        return fault
    return traceback.format_exc(limit=5).rstrip(), EXIT_RUN_FAILED


def child_main(fd: int) -> None:
    """The model process: load the models the server names, then answer batches until the
    socket `fd` closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _serve(Connection(fd))
