"""What every benchmark shares: fresh databases, service processes, wrk, result files."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

RESULTS = Path(__file__).parent / "results"
ADMIN_URL = os.environ.get(
    "CRM_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)

WRK_SCRIPT = """
local paths = {}
init = function(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  wrk.headers[args[3] or "X-Service-Token"] = args[2]
end
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
    .. '"non_2xx": %d, "socket_errors": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), errors.status,
    errors.connect + errors.read + errors.write + errors.timeout))
end
"""


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_result(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({**result, "machine": machine()}, indent=2, default=str) + "\n")
    return path


def require_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("This benchmark needs wrk (Debian: apt-get install wrk).")
    return wrk


def wrk_get(
    base_url: str,
    paths: list[str],
    token: str,
    *,
    connections: int = 64,
    seconds: int = 10,
    threads: int = 1,
    header: str = "X-Service-Token",
) -> dict[str, Any]:
    """GET random paths at `connections` concurrent connections; req/s and latencies.

    `token` goes in the `header` of every request (an API key: `X-API-Key`)."""
    wrk = require_wrk()
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "paths.lua"
        script.write_text(WRK_SCRIPT)
        path_file = Path(tmp) / "paths.txt"
        path_file.write_text("\n".join(paths) + "\n")
        output = subprocess.run(
            [
                wrk,
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "5s",
                "-s",
                str(script),
                base_url,
                "--",
                str(path_file),
                token,
                header,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    stats: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    stats["requests_per_s"] = round(stats["requests"] / (stats["duration_us"] / 1e6), 1)
    stats["p50_ms"] = round(stats.pop("p50_us") / 1000, 2)
    stats["p90_ms"] = round(stats.pop("p90_us") / 1000, 2)
    stats["p99_ms"] = round(stats.pop("p99_us") / 1000, 2)
    return stats


@contextmanager
def background_process(command: list[str], env: dict[str, str], log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, env={**os.environ, **env}, stdout=out, stderr=out)
    try:
        yield
    finally:
        process.terminate()
        process.wait(10)


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The wrk run with the median throughput of several."""
    ordered = sorted(runs, key=lambda run: run["requests_per_s"])
    return ordered[len(ordered) // 2]


def wait_for(url: str, headers: dict[str, str] | None = None, seconds: float = 30) -> None:
    """Until `url` answers 200."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, headers=headers, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")
