"""A search on a Dask cluster: the local results, the local limits, and a worker killed midway."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_classification

from automl import AutoClassifier
from automl.cluster import DaskPool
from automl.workers import start_fork_server
from tests.helpers import REPO
from tests.test_cli import automl
from tests.test_workers import _run_all, raise_error, segfault, sleep_in_c, total

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes on loopback, each behind a nanny that restarts it."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, silence_logs=logging.ERROR,
    ) as cluster:  # fmt: skip
        yield cluster


@pytest.fixture
def data():
    return make_classification(300, 8, n_informative=5, random_state=0)


def _fit(X, y, **params):
    settings = dict(time_budget=None, max_evals=6, random_state=0, warm_start=False)
    return AutoClassifier(**{**settings, **params}).fit(X, y)


def test_a_search_on_the_cluster_gives_the_same_model_as_here(cluster, data):
    X, y = data
    remote = _fit(X, y, scheduler=cluster.scheduler_address)
    local = _fit(X, y)
    columns = ["pipeline", "status", "roc_auc"]
    assert remote.leaderboard()[columns].equals(local.leaderboard()[columns])
    np.testing.assert_array_equal(remote.predict_proba(X), local.predict_proba(X))


def test_its_journal_resumes_here(cluster, data, tmp_path):
    X, y = data
    remote = _fit(X, y, scheduler=cluster.scheduler_address, checkpoint=tmp_path)
    resumed = _fit(X, y, checkpoint=tmp_path)
    # Replayed from the journal, not run again: the durations are the cluster's own.
    replayed = [(t.score, t.duration) for t in resumed.history_.trials]
    assert replayed == [(t.score, t.duration) for t in remote.history_.trials]


def test_time_limits_and_crashes_hold_on_the_workers(cluster):
    with DaskPool(cluster.scheduler_address) as pool:
        workers = pool._client.run(os.getpid)
        shared = pool.share({"values": np.arange(10)})
        ids = {
            "native": pool.submit(sleep_in_c, shared, time_limit=1.0),
            "error": pool.submit(raise_error, shared, time_limit=30),
            "segfault": pool.submit(segfault, shared, time_limit=30),
            "ok": pool.submit(total, shared, 0.5, time_limit=30),
        }
        outcomes = _run_all(pool)
        # The segfault killed the evaluation's child, not the Dask worker.
        assert pool._client.run(os.getpid) == workers
    status = {name: outcomes[task].status for name, task in ids.items()}
    assert status == {"native": "timeout", "error": "failed", "segfault": "crashed", "ok": "ok"}
    assert outcomes[ids["ok"]].value == 45.5
    assert "SIGSEGV" in outcomes[ids["segfault"]].error
    assert "time limit of 1.0 s" in outcomes[ids["native"]].error


@pytest.mark.skipif(not os.path.exists("/proc"), reason="checks processes through /proc")
def test_cancel_kills_an_evaluation_running_on_a_worker(cluster):
    with DaskPool(cluster.scheduler_address) as pool:
        task = pool.submit(sleep_in_c, pool.share({"values": np.arange(3)}), time_limit=600)
        servers = _fork_servers(pool._client).values()
        deadline = time.monotonic() + 30
        while not any(_children(server) for server in servers):  # it has started
            assert time.monotonic() < deadline
            time.sleep(0.2)
        pool.cancel("timeout")
        outcomes = _run_all(pool, timeout=20)
        assert outcomes[task].status == "timeout"
        time.sleep(1)
        assert not any(_children(server) for server in servers)  # killed, not abandoned


def _fork_servers(client) -> dict[str, int]:
    def pid():
        from automl.workers import _ForkServer

        return _ForkServer._current._process.pid

    return client.run(pid)


def _children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid``."""
    pids = (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())
    return [child for child in pids if (stat := _stat(child)) and stat[1] == pid and _live(stat)]


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, or None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1])


@pytest.mark.skipif(not os.path.exists("/proc"), reason="checks processes through /proc")
def test_workers_killed_midway_lose_only_their_evaluations(cluster):
    # Both workers die in turn, so that Dask's copy of the data dies too (it keeps one
    # copy of data that no task waits for), and the restarted workers lack it.
    X, y = make_classification(2000, 20, n_informative=8, random_state=1)
    killed, errors = [], []

    def kill_each_worker(client):
        try:
            first = sorted(client.run(os.getpid).items())
            servers = _fork_servers(client)
            for address, pid in first:
                time.sleep(8)
                killed.append((time.monotonic(), servers[address]))
                os.kill(pid, 9)
        except Exception as error:
            errors.append(error)

    with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
        client.run(start_fork_server)
        killer = threading.Thread(target=kill_each_worker, args=(client,))
        started = time.monotonic()
        killer.start()
        model = AutoClassifier(
            time_budget=45, n_jobs=2, random_state=0, warm_start=False,
            scheduler=cluster.scheduler_address,
        ).fit(X, y)  # fmt: skip
        killer.join()
    assert not errors and len(killed) == 2

    assert time.monotonic() - started < 45 + 5
    last_kill = killed[-1][0] - started
    after = [t for t in model.history_.trials if t.ok and t.finished_at > last_kill]
    assert len(after) >= 2  # the search went on, on the restarted workers
    # A worker's death is the cluster's failure, never recorded as the pipeline's.
    assert not any(t.status == "crashed" for t in model.history_.trials)
    assert model.score(X, y) > 0.8
    # The dead workers' fork servers (and so their children) did not outlive them.
    time.sleep(1)
    assert not any(_alive(server) for _, server in killed)


def _alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and _live(stat)


def _live(stat: tuple[str, int]) -> bool:
    return stat[0] not in "ZX"  # a zombie has ended: only its exit status is left


def test_the_command_line_fits_on_a_scheduler_and_says_how_to_start_one(cluster, tmp_path):
    churn = str(REPO / "examples" / "churn.csv")
    options = ["--target", "churned", "--max-evals", "3", "--time-budget", "none"]
    fitted = automl("fit", churn, *options, "--scheduler", cluster.scheduler_address, cwd=tmp_path)
    assert fitted.returncode == 0, fitted.stderr
    assert (tmp_path / "model.pkl").exists()
    unreachable = automl("fit", churn, *options, "--scheduler", "tcp://127.0.0.1:9", cwd=tmp_path)
    assert unreachable.returncode == 2 and "Traceback" not in unreachable.stderr
    assert "Start one with `dask scheduler`" in unreachable.stderr
