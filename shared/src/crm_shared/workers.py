"""A worker process for CPU-heavy work (scoring, training) beside a service process.

Spawned, not forked: a fork of a process with an event loop and open sockets is unsafe.
The worker watches its parent and exits once the parent is gone, however the parent
ended (a clean stop, SIGKILL, a crash): a stopped service never leaves a worker behind.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor

PARENT_CHECK_SECONDS = 0.5


def worker_process_pool() -> ProcessPoolExecutor:
    """A pool of one spawned worker that dies with the process that made it."""
    return ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_exit_with_parent,
        initargs=(os.getpid(),),
    )


def _exit_with_parent(parent_pid: int) -> None:
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
