"""The worker pool: time limits that hold in native code, and failures that stay contained."""

from __future__ import annotations

import ctypes
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_classification

from automl import AutoClassifier
from automl.workers import WorkerPool, _ForkServer


def total(data, offset):
    return float(np.sum(data["values"])) + offset


def sleep_in_python(data):
    time.sleep(600)


def sleep_in_c(data):
    ctypes.CDLL(None).sleep(600)  # native code: no Python signal handler can interrupt it


def raise_error(data):
    raise RuntimeError("this component is broken")


def segfault(data):
    os.kill(os.getpid(), signal.SIGSEGV)


def _run_all(pool, timeout=60):
    outcomes = {}
    deadline = time.monotonic() + timeout
    while pool.n_running and time.monotonic() < deadline:
        for outcome in pool.wait(5):
            outcomes[outcome.task_id] = outcome
    return outcomes


def test_each_task_ends_on_its_own_and_the_others_go_on():
    with WorkerPool() as pool:
        data = pool.share({"values": np.arange(10)})
        start = time.monotonic()
        ids = {
            "python": pool.submit(sleep_in_python, data, time_limit=1.0),
            "native": pool.submit(sleep_in_c, data, time_limit=1.0),
            "error": pool.submit(raise_error, data, time_limit=30),
            "segfault": pool.submit(segfault, data, time_limit=30),
            "ok": pool.submit(total, data, 0.5, time_limit=30),
        }
        outcomes = _run_all(pool)
        elapsed = time.monotonic() - start
    status = {name: outcomes[task].status for name, task in ids.items()}
    assert status == {
        "python": "timeout",
        "native": "timeout",
        "error": "failed",
        "segfault": "crashed",
        "ok": "ok",
    }
    assert outcomes[ids["ok"]].value == 45.5
    assert "this component is broken" in outcomes[ids["error"]].error
    assert "SIGSEGV" in outcomes[ids["segfault"]].error
    assert "time limit of 1.0 s" in outcomes[ids["native"]].error
    assert elapsed < 30  # the sleepers were stopped, not waited for


def test_cancel_stops_running_tasks():
    with WorkerPool() as pool:
        data = pool.share({"values": np.arange(3)})
        task = pool.submit(sleep_in_c, data, time_limit=600)
        pool.wait(0.5)
        pool.cancel("timeout")
        outcomes = _run_all(pool, timeout=20)
    assert outcomes[task].status == "timeout"


def test_a_task_may_be_a_closure_of_the_caller():
    offset = 2.0

    def shifted(data):
        return float(data["values"].max()) + offset

    with WorkerPool() as pool:
        task = pool.submit(shifted, pool.share({"values": np.arange(4)}), time_limit=30)
        outcomes = _run_all(pool)
    assert outcomes[task].value == 5.0


def touch_later(data, path):
    time.sleep(2)
    with open(path, "w") as file:
        file.write("ran")


def test_closing_the_pool_kills_tasks_whose_start_it_has_not_seen(tmp_path):
    marker = tmp_path / "ran.txt"
    with WorkerPool() as pool:
        pool.submit(touch_later, pool.share({"values": np.arange(2)}), str(marker), time_limit=60)
        # Leaving at once: the pool has not yet read that the task started.
    time.sleep(3)
    assert not marker.exists()


def allocate(data, megabytes):
    return len(bytearray(megabytes * 2**20))


def test_a_task_past_its_memory_limit_ends_as_memout_and_the_others_go_on():
    with WorkerPool() as pool:
        data = pool.share({"values": np.arange(10)})
        hungry = pool.submit(allocate, data, 2000, time_limit=30, memory_limit=600 * 2**20)
        modest = pool.submit(allocate, data, 100, time_limit=30, memory_limit=600 * 2**20)
        unlimited = pool.submit(allocate, data, 700, time_limit=30)
        outcomes = _run_all(pool)
    assert outcomes[hungry].status == "memout"
    assert "MemoryError" in outcomes[hungry].error
    assert outcomes[modest].status == "ok" and outcomes[modest].value == 100 * 2**20
    assert outcomes[unlimited].status == "ok"


def _cpu_seconds(pid: int) -> float:
    """CPU time of a process and of its children that have ended (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads CPU times in /proc")
def test_one_job_keeps_to_one_core_even_with_multithreaded_libraries():
    X, y = make_classification(4000, 30, random_state=0)
    settings = {"time_budget": 20, "n_jobs": 1, "random_state": 0, "warm_start": False}
    with WorkerPool():
        server = _ForkServer.get()._process.pid  # its children's times accrue to it
        before, start = _cpu_seconds(server), time.monotonic()
        AutoClassifier(**settings).fit(X, y)
        wall = time.monotonic() - start
    time.sleep(1)  # the last children are reaped within a poll
    assert _cpu_seconds(server) - before <= 1.2 * wall
