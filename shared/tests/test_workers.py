"""A service's worker process never outlives the service."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

SERVICE = """
import os
from crm_shared.workers import worker_process_pool

if __name__ == "__main__":
    pool = worker_process_pool()
    print(pool.submit(os.getpid).result(), flush=True)
    os._exit(0)  # gone without shutting the pool down, as after SIGKILL
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers; it has exited all the same.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_worker_exits_when_its_service_dies_abruptly(tmp_path: Path) -> None:
    script = tmp_path / "service.py"
    script.write_text(SERVICE)
    finished = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True
    )
    worker = int(finished.stdout.strip())
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(worker), f"worker {worker} outlived its service"
