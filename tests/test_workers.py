"""The worker pool: time limits that hold in native code, and failures that stay contained."""

from __future__ import annotations

import ctypes
import functools
import multiprocessing
import os
import resource
import select
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_classification

from automl import AutoClassifier
from automl.workers import WorkerPool, _copyable, _ForkServer

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux: /proc, copies")


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


def _stat(pid: int) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` after the command's name: state, parent, ..."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _evaluations_cpu_seconds() -> float:
    """CPU time of the fork servers' children that have ended: a copy's accrues to this
    process once the copy has ended; the shared fresh server's, to that server."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    fresh = _ForkServer._current
    if fresh is None or not fresh.alive:
        return usage.ru_utime + usage.ru_stime
    fresh_seconds = sum(map(int, _stat(fresh._process.pid)[11:15])) / os.sysconf("SC_CLK_TCK")
    return usage.ru_utime + usage.ru_stime + fresh_seconds


def server_pid(data):
    return os.getppid()


def _thread_running():
    """A thread that runs until the returned event is set: the caller is then no longer copied."""
    stop = threading.Event()
    threading.Thread(target=stop.wait).start()
    return stop


_ORIGINALS = {}


def in_a_fresh_python(test):
    """Run ``test`` in a new Python, where no thread of an earlier test runs (Dask's
    stay), so that its pools copy the process as a user's script would be copied."""
    _ORIGINALS[test.__name__] = test

    @functools.wraps(test)
    def run_there(*args, **kwargs):
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=spawn) as executor:
            executor.submit(_run_original, test.__name__, *args, **kwargs).result()

    return run_there


def _run_original(name, *args, **kwargs):
    assert _copyable(), f"other threads run: {threading.enumerate()}"
    _ORIGINALS[name](*args, **kwargs)


@linux_only
@in_a_fresh_python
def test_the_fork_server_is_a_copy_of_this_process_that_ends_with_its_pool():
    with WorkerPool() as pool:
        task = pool.submit(server_pid, pool.share({"values": np.arange(2)}), time_limit=30)
        server = _run_all(pool)[task].value
        assert int(_stat(server)[1]) == os.getpid()
    assert not Path(f"/proc/{server}").exists()  # ended, and reaped


def note_pid_and_sleep(data, path):
    Path(path).write_text(str(os.getpid()))
    sleep_in_c(data)


@linux_only
@in_a_fresh_python
def test_when_the_copy_dies_its_tasks_crash_and_later_ones_run_on_a_fresh_server(tmp_path):
    with WorkerPool() as pool:
        data = pool.share({"values": np.arange(3)})
        first = pool.submit(server_pid, data, time_limit=30)
        copy = _run_all(pool)[first].value
        sleeper = pool.submit(note_pid_and_sleep, data, str(tmp_path / "pid"), time_limit=60)
        while not (tmp_path / "pid").exists():
            time.sleep(0.05)
        os.kill(copy, signal.SIGKILL)
        lost = _run_all(pool)[sleeper]
        later = pool.submit(total, data, 1.0, time_limit=30)
        outcome = _run_all(pool)[later]
    assert lost.status == "crashed" and "fork server died" in lost.error
    time.sleep(0.5)
    orphan = int((tmp_path / "pid").read_text())
    assert not Path(f"/proc/{orphan}").exists() or _stat(orphan)[0] == "Z"  # killed
    assert outcome.status == "ok" and outcome.value == 4.0


@linux_only
def test_with_another_thread_running_the_fork_server_is_a_fresh_python():
    stop = _thread_running()
    try:
        with WorkerPool() as pool:
            task = pool.submit(server_pid, pool.share({"values": np.arange(2)}), time_limit=30)
            server = _run_all(pool)[task].value
    finally:
        stop.set()
    fresh = _ForkServer.get()
    assert server == fresh._process.pid
    assert "automl.forkserver" in Path(f"/proc/{server}/cmdline").read_text()


@linux_only
@in_a_fresh_python
def test_the_copy_keeps_none_of_the_callers_pipes_open():
    read_end, write_end = os.pipe()
    with WorkerPool() as pool:
        os.close(write_end)
        # The copy holds the write end no longer: the reader sees the end of the data.
        ready, _, _ = select.select([read_end], [], [], 5)
        assert ready and os.read(read_end, 1) == b""
        task = pool.submit(total, pool.share({"values": np.arange(3)}), 0.0, time_limit=30)
        assert _run_all(pool)[task].value == 3.0
    os.close(read_end)


def fit_lightgbm(data):
    import lightgbm

    model = lightgbm.LGBMClassifier(n_estimators=20, n_jobs=1, verbose=-1)
    return model.fit(data["X"], data["y"]).score(data["X"], data["y"])


@linux_only
@in_a_fresh_python
def test_a_copy_of_a_caller_that_ran_openmp_threads_still_runs_openmp_models():
    import lightgbm

    X, y = make_classification(2000, 20, random_state=0)
    # Its OpenMP thread pool now exists here; libgomp can hang a fork that reuses it.
    lightgbm.LGBMClassifier(n_estimators=20, n_jobs=2, verbose=-1).fit(X, y)
    with WorkerPool() as pool:
        task = pool.submit(fit_lightgbm, pool.share({"X": X, "y": y}), time_limit=60)
        outcome = _run_all(pool)[task]
    assert outcome.status == "ok" and outcome.value > 0.9


@linux_only
@in_a_fresh_python
def test_a_memory_limit_counts_only_what_a_task_allocates_not_what_the_caller_holds():
    ballast = np.ones(400 * 2**20 // 8)  # 400 MB held by this process, hence by its copy
    with WorkerPool() as pool:
        data = pool.share({"values": np.arange(10)})
        modest = pool.submit(allocate, data, 100, time_limit=30, memory_limit=300 * 2**20)
        hungry = pool.submit(allocate, data, 600, time_limit=30, memory_limit=300 * 2**20)
        outcomes = _run_all(pool)
    assert ballast.sum() > 0
    assert outcomes[modest].status == "ok"
    assert outcomes[hungry].status == "memout"


@linux_only
def test_one_job_keeps_to_one_core_even_with_multithreaded_libraries():
    X, y = make_classification(4000, 30, random_state=0)
    settings = {"time_budget": 20, "n_jobs": 1, "random_state": 0, "warm_start": False}
    before, start = _evaluations_cpu_seconds(), time.monotonic()
    AutoClassifier(**settings).fit(X, y)
    wall = time.monotonic() - start
    time.sleep(1)  # the last children are reaped within a poll
    cpu = _evaluations_cpu_seconds() - before
    assert 1.0 < cpu <= 1.2 * wall  # measured, and within one core
