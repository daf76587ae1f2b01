"""Run the evaluations on a Dask distributed cluster instead of this machine's cores.

:class:`DaskPool` has the interface of :class:`automl.workers.WorkerPool`, so the
search, the journal and the refits do not know where they run. Each Dask task runs
its evaluation the way a local pool does, in a forked child of the worker's own
fork server, so the time and memory limits hold on the cluster too, and a runaway
evaluation is killed without taking the Dask worker down.

The data goes to each worker once: a task pinned to the worker stores it on the
worker's local disk, memory-mapped by its fork server as locally; evaluations then
name it and do not carry it. An evaluation that lands on a worker without it (one
that joined or restarted since) comes back unstarted; the data is stored there
(scattered again first if the worker that held Dask's copy died) and the
evaluation runs again. So is one whose worker died under it: a failure of the
cluster is never recorded as a failure of the pipeline.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import itertools
import threading
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import joblib

from automl.workers import Outcome, WorkerPool, forget, start_fork_server

#: How often an evaluation on a worker checks whether it was cancelled.
_CANCEL_POLL_SECONDS = 0.5
#: The longest single wait of the client for results: it then checks its futures again.
_MAX_WAIT_SECONDS = 1.0
#: Runs of one task before a cluster that keeps failing it counts as its outcome.
_MAX_ATTEMPTS = 4
#: Seconds to wait for a first worker, and for the data to be stored on the workers.
_WORKERS_TIMEOUT, _STORE_TIMEOUT = 30, 600
#: Libraries whose versions on the workers decide the results.
_LIBRARIES = ("automl", "scikit-learn", "lightgbm", "xgboost")
#: What an evaluation reports when its worker does not hold the data (it is not run).
_UNSTORED = "unstored"


@dataclasses.dataclass(eq=False)
class _Shared:
    """Data shared with the workers, under a name of its own on every worker.

    It keeps the data, to send it again to workers that join later.
    """

    data: Any
    name: str = dataclasses.field(default_factory=lambda: f"automl-{uuid.uuid4().hex}")
    future: Any = None  # Dask's copy, from which workers store it


@dataclasses.dataclass(frozen=True)
class _Reference:
    """An argument that is shared data, by its name."""

    name: str


@dataclasses.dataclass(eq=False)
class _Submitted:
    """A task as submitted, to submit it again if the cluster fails it."""

    task_id: int
    fn: Any
    args: tuple
    deadline: float  # on this process's monotonic clock: the time limit does not restart
    memory_limit: int | None
    attempts: int = 0


class DaskPool:
    """Runs tasks on the workers of a Dask scheduler, each under its own limits.

    Parameters
    ----------
    scheduler : str
        Address of a running Dask scheduler, e.g. ``"tcp://10.0.0.5:8786"``.
    """

    def __init__(self, scheduler: str):
        self._client = _connect(scheduler)
        self._futures: dict[Any, _Submitted] = {}
        self._ids = itertools.count()
        self._shared: list[_Shared] = []
        self._cancelled: dict[int, str] = {}
        self._finished = threading.Event()  # set when a task ends; wakes up wait()
        self._new_cancel_event()
        try:
            _check_workers(self._client, scheduler)
            # Each worker's fork server imports the libraries while the data is sent.
            self._client.run(start_fork_server)
        except BaseException:
            self._client.close()
            raise

    def __enter__(self) -> DaskPool:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def n_running(self) -> int:
        return len(self._futures)

    @property
    def n_cores(self) -> int:
        """Worker threads in the cluster: evaluations it runs at once."""
        return max(1, sum(self._client.nthreads().values()))

    def default_memory_limit(self, n_jobs: int) -> int | None:
        """80% of the smallest worker's memory limit per thread (Dask's own limit), or
        None if the workers have none."""
        workers = self._client.scheduler_info(n_workers=-1)["workers"].values()
        shares = [w["memory_limit"] / w["nthreads"] for w in workers if w.get("memory_limit")]
        return int(0.8 * min(shares)) if shares else None

    def share(self, data: Any) -> _Shared:
        """Store ``data`` on every worker once; pass the returned reference as an argument."""
        shared = _Shared(data)
        self._shared.append(shared)
        self._store(shared, list(self._client.nthreads()))
        return shared

    def submit(self, fn, *args, time_limit: float, memory_limit: int | None = None) -> int:
        """Start ``fn(*args)`` on a worker; returns the id that its :class:`Outcome` carries."""
        deadline = time.monotonic() + time_limit
        task = _Submitted(next(self._ids), fn, args, deadline, memory_limit)
        self._launch(task)
        return task.task_id

    def wait(self, timeout: float) -> list[Outcome]:
        """Outcomes of the tasks that end within ``timeout`` seconds (none if a task that
        ended must run again)."""
        deadline = time.monotonic() + timeout
        while self._futures and not any(f.done() for f in self._futures):
            left = deadline - time.monotonic()
            if left <= 0:
                return []
            # In slices: the done callbacks share one thread of the Dask client.
            self._finished.wait(min(left, _MAX_WAIT_SECONDS))
            self._finished.clear()
        outcomes = [self._collect(f) for f in list(self._futures) if f.done()]
        return [outcome for outcome in outcomes if outcome is not None]

    def cancel(self, reason: str = "timeout") -> None:
        """Stop every task; their outcomes, finished ones kept, still come from :meth:`wait`."""
        from distributed import Event

        Event(self._cancel_event, client=self._client).set()
        self._new_cancel_event()  # tasks submitted from now on start uncancelled
        for task in self._futures.values():
            self._cancelled[task.task_id] = reason

    def close(self) -> None:
        """Stop what still runs, drop the data from the workers and disconnect."""
        try:
            if self._futures:
                self.cancel("cancelled")
            if self._shared:
                names = [shared.name for shared in self._shared]
                self._client.run(_forget_on_worker, names, on_error="ignore")
        finally:
            self._futures.clear()
            self._client.close()

    def _new_cancel_event(self) -> None:
        self._cancel_event = f"automl-cancel-{uuid.uuid4().hex}"

    def _launch(self, task: _Submitted) -> None:
        args = tuple(_Reference(a.name) if isinstance(a, _Shared) else a for a in task.args)
        future = self._client.submit(
            _run_on_worker,
            task.fn,
            args,
            time_limit=task.deadline - time.monotonic(),
            memory_limit=task.memory_limit,
            cancel_event=self._cancel_event,
            pure=False,
        )
        future.add_done_callback(lambda future: self._finished.set())
        self._futures[future] = task

    def _collect(self, future) -> Outcome | None:
        """The outcome of a finished future, or None if its task runs again."""
        task = self._futures.pop(future)
        reason = self._cancelled.pop(task.task_id, None)
        outcome = future.result() if future.status == "finished" else None
        if outcome is not None and outcome.status != _UNSTORED:
            if reason is not None and outcome.status == "cancelled":
                outcome = dataclasses.replace(outcome, status=reason)
            return dataclasses.replace(outcome, task_id=task.task_id)
        if reason is not None:  # cancelled before it ran: not to be run again
            return Outcome(task.task_id, reason, error="cancelled on the cluster")
        if outcome is not None:  # its worker lacked the data
            self._store_for(task, worker=outcome.error)
            return self._again(task, f"its worker {outcome.error} lacked the data")
        # Its worker died, or the connection broke: the cluster failed, not the pipeline.
        cause = future.exception() if future.status == "error" else future.status
        return self._again(task, f"the cluster lost it ({cause!r})")

    def _again(self, task: _Submitted, why: str) -> Outcome | None:
        """Run ``task`` again, or give it up as ``cancelled`` (never journaled, unlike
        a pipeline's own failure) if it has failed too often or its time is up."""
        task.attempts += 1
        if task.attempts < _MAX_ATTEMPTS and task.deadline > time.monotonic():
            self._launch(task)
            return None
        return Outcome(task.task_id, "cancelled", error=f"not run on the Dask cluster: {why}")

    def _store_for(self, task: _Submitted, worker: str) -> None:
        for shared in (a for a in task.args if isinstance(a, _Shared)):
            self._store(shared, [worker])

    def _store(self, shared: _Shared, workers: list[str]) -> None:
        """Have ``workers`` store ``shared``; one that fails gets it when a task needs it."""
        try:
            if shared.future is None or shared.future.status != "finished":
                # Its holder died (Dask keeps one copy of data no task waits for): again.
                [shared.future] = self._client.scatter([shared.data], hash=False)
            stores = [self._store_on(worker, shared) for worker in workers]
        except (OSError, TimeoutError) as error:  # no worker to scatter to, or disconnected
            warnings.warn(f"Could not send the data to the Dask workers: {error}", stacklevel=3)
            return
        deadline = time.monotonic() + _STORE_TIMEOUT
        for worker, store in zip(workers, stores, strict=True):
            try:
                store.result(timeout=max(1.0, deadline - time.monotonic()))
            except Exception as error:  # it left, or its disk is full: say so, go on
                warnings.warn(
                    f"Could not store the data on the Dask worker {worker}: {error!r}; "
                    "evaluations that land there come back and run elsewhere.",
                    stacklevel=3,
                )

    def _store_on(self, worker: str, shared: _Shared):
        return self._client.submit(
            _store_on_worker,
            shared.future,
            shared.name,
            workers=[worker],
            allow_other_workers=False,
            pure=False,
        )


def _connect(scheduler: str):
    try:
        from distributed import Client
    except ImportError as error:
        raise ImportError(
            "scheduler= runs the search on a Dask cluster, which needs Dask's distributed "
            'scheduler: pip install "automl[dask]".'
        ) from error
    try:
        return Client(scheduler, set_as_default=False, timeout=10)
    except OSError as error:
        raise ConnectionError(
            f"Could not reach the Dask scheduler at {scheduler!r} ({error}). Start one with "
            "`dask scheduler` and its workers with `dask worker <address> --nthreads 1`, "
            "or leave scheduler=None to run on this machine."
        ) from error


def _check_workers(client, scheduler: str) -> None:
    """Wait for a worker; refuse workers without automl; warn when their libraries
    differ from ours."""
    try:
        client.wait_for_workers(1, timeout=_WORKERS_TIMEOUT)
    except TimeoutError as error:
        raise ConnectionError(
            f"No worker joined the Dask scheduler at {scheduler!r} within "
            f"{_WORKERS_TIMEOUT} s: start some with `dask worker {scheduler} --nthreads 1`."
        ) from error
    for library in _LIBRARIES:
        ours = _version(library)
        theirs = client.run(_version, library)
        missing = sorted(w for w, v in theirs.items() if v is None)
        if missing and library == "automl":
            raise RuntimeError(
                f"automl is not installed on the Dask workers {missing}: install the same "
                f"automl ({ours}) in every worker's environment."
            )
        differing = sorted(w for w, v in theirs.items() if v != ours)
        if differing:
            warnings.warn(
                f"{library} {ours} here, {sorted(set(theirs.values()) - {ours})} on the "
                f"Dask workers {differing}: their scores may differ from this machine's.",
                stacklevel=4,
            )


def _version(library: str) -> str | None:
    try:
        return importlib.metadata.version(library)
    except importlib.metadata.PackageNotFoundError:
        return None


# -- on the workers ---------------------------------------------------------------
#: Where each shared data is stored on this worker, by name.
_STORED: dict[str, str] = {}
_STORE_LOCK = threading.Lock()


def _run_on_worker(
    fn, args: tuple, *, time_limit: float, memory_limit: int | None, cancel_event: str
) -> Outcome:
    """Run ``fn(*args)`` as a local pool would, in a forked child with its limits."""
    from distributed import Event, get_worker

    worker = get_worker()
    key = worker.get_current_task()
    cancelled = Event(cancel_event)
    if cancelled.is_set():
        return Outcome(-1, "cancelled", error="cancelled before it started")
    if any(a.name not in _STORED for a in args if isinstance(a, _Reference)):
        return Outcome(-1, _UNSTORED, error=worker.address)
    with WorkerPool() as pool:
        args = [pool.adopt(_STORED[a.name]) if isinstance(a, _Reference) else a for a in args]
        pool.submit(fn, *args, time_limit=time_limit, memory_limit=memory_limit)
        while True:
            outcomes = pool.wait(_CANCEL_POLL_SECONDS)
            if outcomes:
                return outcomes[0]
            if cancelled.is_set() or _abandoned(worker, key):
                pool.cancel("cancelled")


def _abandoned(worker, key) -> bool:
    """Whether Dask let go of this task (its client left): nobody wants its result."""
    task = worker.state.tasks.get(key)
    return task is None or task.state in ("cancelled", "released", "forgotten")


def _store_on_worker(data: Any, name: str) -> str:
    """Store ``data`` in this worker's local directory (removed with the worker)."""
    from distributed import get_worker

    with _STORE_LOCK:
        if name not in _STORED:
            directory = Path(get_worker().local_directory) / "automl"
            directory.mkdir(exist_ok=True)
            path = directory / f"{name}.joblib"
            joblib.dump(data, path)
            _STORED[name] = str(path)
        return _STORED[name]


def _forget_on_worker(names: list[str]) -> None:
    # No lock: this runs in the worker's event loop, which must not wait for a store.
    for name in names:
        path = _STORED.pop(name, None)
        if path is not None:
            forget(path)
            Path(path).unlink(missing_ok=True)
