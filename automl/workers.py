"""Run tasks in child processes that can be stopped, each on its own.

A pool has one *fork server*, a process that has imported scikit-learn, LightGBM and
XGBoost and holds the shared data. For each task it forks a child, which inherits
all of that for free. A child runs in its own process group; the pool kills the
whole group when the task's time limit passes, even inside native code, and only
that task is lost.

Where it is safe, the fork server is a copy of the calling process, forked when the
pool starts: it has the libraries already, where a fresh Python process takes seconds
to import them (3 s on a slow core: a third of a 10 s budget). It is safe on Linux
when no other Python thread runs, since a lock another thread held would stay held
in the copy; the copy lives only as long as its pool, so that it does not keep the
caller's memory of that moment for good. Otherwise the pool uses one fresh process
(``python -c``, so it never imports the user's ``__main__``), started on first use
and shared by every pool of this process. Neither kind runs a model itself, and the
children run one thread each, so forking them is safe with OpenMP, even where the
caller has run OpenMP's threads before (``tests/test_workers.py`` checks it).

Why not ``joblib.Parallel``: it cannot stop one runaway task without breaking the
whole pool, and its workers cannot hold a time limit inside native code.
joblib still stores the shared data, memory-mapped, so children do not copy it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import pickle
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cloudpickle
import joblib

from automl.forkserver import (
    POLL_SECONDS,
    PRELOAD,
    Shared,
    kill_group,
    out_of_memory,
    serve_as_copy,
)

#: Environment of the fork server: one thread per process for every numeric library.
_ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
_LOG_TAIL_CHARS = 2000


@dataclass(frozen=True, eq=False)
class Outcome:
    """How a task ended: ``ok`` with its value, or ``failed``/``timeout``/``crashed``."""

    task_id: int
    status: str
    value: Any = None
    error: str = ""
    duration: float = 0.0


@dataclass(eq=False)
class _Task:
    task_id: int
    directory: Path
    time_limit: float
    submitted: float
    pid: int | None = None
    started: float | None = None
    killed_for: str = ""


class _ForkServer:
    """A fork server, as the pools see it: commands go to it, its events to their inboxes.

    :meth:`get` gives the fresh one shared by every pool of this process, started on
    first use: sharing it saves each ``fit`` the seconds that importing the libraries takes.
    """

    _current: _ForkServer | None = None
    _lock = threading.Lock()

    @classmethod
    def get(cls) -> _ForkServer:
        with cls._lock:
            if cls._current is None or not cls._current.alive:
                cls._current = cls(_fresh_python())
            return cls._current

    def __init__(self, process: subprocess.Popen | _CopyOfThisProcess):
        self._process = process
        self._ids = itertools.count()
        self._inboxes: dict[int, queue.Queue] = {}
        self._write_lock = threading.Lock()
        self._dispatcher = threading.Thread(target=self._dispatch, daemon=True)
        self._dispatcher.start()

    @property
    def alive(self) -> bool:
        return self._process.poll() is None and not self.silent

    @property
    def silent(self) -> bool:
        """Whether it has stopped for good, every event it sent delivered."""
        return not self._dispatcher.is_alive()

    def run(self, directory: Path, inbox: queue.Queue, memory_limit: int | None) -> int:
        """Fork a child for the task in ``directory``; its events go to ``inbox``."""
        task_id = next(self._ids)
        self._inboxes[task_id] = inbox
        self._send({"op": "run", "id": task_id, "dir": str(directory), "memory": memory_limit})
        return task_id

    def kill(self, task_id: int) -> None:
        """Kill a task's child by its id: for one whose pid has not arrived yet."""
        self._send({"op": "kill", "id": task_id})

    def load(self, path: str) -> None:
        self._send({"op": "load", "path": path})

    def unload(self, path: str) -> None:
        self._send({"op": "unload", "path": path})

    def stop(self) -> None:
        """End the server and wait for it (its children are killed with it)."""
        with contextlib.suppress(OSError):  # it died already
            self._send({"op": "exit"})
        self._process.wait()
        self._dispatcher.join()

    def _send(self, message: dict) -> None:
        with self._write_lock:
            self._process.stdin.write((json.dumps(message) + "\n").encode())
            self._process.stdin.flush()

    def _dispatch(self) -> None:
        for line in self._process.stdout:
            message = json.loads(line)
            inbox = self._inboxes.get(message["id"])
            if message["op"] == "exited":
                self._inboxes.pop(message["id"], None)
            if inbox is not None:
                inbox.put(message)
        for inbox in set(self._inboxes.values()):  # it died: every running task is lost
            inbox.put(None)


def _fresh_python() -> subprocess.Popen:
    """A new Python process as fork server (``python -c``: not the caller's ``__main__``)."""
    env = {**os.environ, **_ONE_THREAD, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return subprocess.Popen(
        [sys.executable, "-c", "from automl.forkserver import serve; serve()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )


class _CopyOfThisProcess:
    """A fork of the calling process that serves as a fork server, like a ``Popen`` of one."""

    def __init__(self):
        commands_read, commands_write = os.pipe()
        events_read, events_write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            serve_as_copy(commands_read, events_write)
        os.close(commands_read)
        os.close(events_write)
        self.stdin = os.fdopen(commands_write, "wb")
        self.stdout = os.fdopen(events_read, "rb")
        self.returncode: int | None = None

    def poll(self) -> int | None:
        return self._reap(os.WNOHANG)

    def wait(self) -> int:
        return self._reap(0)

    def _reap(self, options: int) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, options)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def _copyable() -> bool:
    """Whether this process can be copied as a fork server (see the module's docstring).

    A fresh server already running has a thread here that reads its events, so it is
    used instead, warm.
    """
    return (
        sys.platform.startswith("linux")
        and threading.active_count() == 1
        and all(module in sys.modules for module in PRELOAD)
    )


class WorkerPool:
    """Runs tasks at once, each in a forked child with a time limit of its own.

    Use it as a context manager: leaving it kills what still runs and removes
    its temporary files.
    """

    def __init__(self):
        if not hasattr(os, "fork"):
            raise RuntimeError(
                "automl runs its evaluations in forked processes, which this platform "
                "does not have: use Linux or macOS (on Windows, WSL)."
            )
        self._directory = Path(tempfile.mkdtemp(prefix="automl-"))
        self._tasks: dict[int, _Task] = {}
        self._shared: list[str] = []  # stored by this pool, removed with it
        self._adopted: list[str] = []  # stored by someone else, left in place
        self._server: _ForkServer | None = None
        self._inbox: queue.Queue = queue.Queue()
        self._copy = _ForkServer(_CopyOfThisProcess()) if _copyable() else None
        self._attach()  # start the server now: a fresh one imports while the caller prepares

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def n_running(self) -> int:
        return len(self._tasks)

    @property
    def n_cores(self) -> int:
        """Cores this process may run on: evaluations it runs at once with ``n_jobs=-1``."""
        if hasattr(os, "sched_getaffinity"):
            return len(os.sched_getaffinity(0))
        return os.cpu_count() or 1

    def share(self, data: Any) -> Shared:
        """Store ``data`` once for all tasks; pass the returned reference as an argument."""
        path = str(self._directory / f"shared-{len(self._shared)}.joblib")
        joblib.dump(data, path)
        self._shared.append(path)
        if self._server is not None:
            self._server.load(path)
        return Shared(path)

    def adopt(self, path: str) -> Shared:
        """Share data stored with ``joblib.dump`` at ``path`` by its owner, who removes it.

        The fork server keeps it loaded after this pool closes, for the next pool
        that adopts it, until :func:`forget` is called for it.
        """
        self._adopted.append(path)
        if self._server is not None:
            self._server.load(path)
        return Shared(path)

    def default_memory_limit(self, n_jobs: int) -> int | None:
        """Bytes each of ``n_jobs`` evaluations at once may use: 80% of their share of
        the memory available now, or None if unknown."""
        available = available_memory()
        return None if available is None else int(0.8 * available / n_jobs)

    def submit(self, fn, *args, time_limit: float, memory_limit: int | None = None) -> int:
        """Start ``fn(*args)`` in a child; returns the task id that its :class:`Outcome` carries.

        ``memory_limit`` caps, in bytes, the memory the child may allocate
        (``RLIMIT_DATA``: its heap and private mappings, not the shared data it
        reads nor the libraries' code); past it the task ends as ``memout``.
        """
        server = self._attach()
        directory = Path(tempfile.mkdtemp(prefix="task-", dir=self._directory))
        with open(directory / "task.pkl", "wb") as file:
            # cloudpickle: functions and classes of the caller's __main__ travel by value.
            cloudpickle.dump((fn, args), file, protocol=pickle.HIGHEST_PROTOCOL)
        task_id = server.run(directory, self._inbox, memory_limit)
        self._tasks[task_id] = _Task(task_id, directory, time_limit, time.monotonic())
        return task_id

    def wait(self, timeout: float) -> list[Outcome]:
        """Outcomes of the tasks that end within ``timeout`` seconds (at least one if any runs)."""
        deadline = time.monotonic() + max(0.0, timeout)
        outcomes: list[Outcome] = []
        while self._tasks:
            self._kill_overdue()
            wait_for = min(POLL_SECONDS * 5, max(0.0, deadline - time.monotonic()))
            with contextlib.suppress(queue.Empty):
                outcomes.extend(self._handle(self._inbox.get(timeout=wait_for)))
            if self._server is not None and self._server.silent and self._inbox.empty():
                # Sent to a server in its last moments: no event of these tasks can come.
                outcomes.extend(self._handle(None))
            if time.monotonic() >= deadline or (outcomes and self._inbox.empty()):
                break
        return outcomes

    def cancel(self, reason: str = "timeout") -> None:
        """Kill every running task; their outcomes still arrive through :meth:`wait`."""
        for task in self._tasks.values():
            self._kill(task, reason)

    def close(self) -> None:
        """Kill what still runs, free the shared data and remove the temporary files."""
        self.cancel("cancelled")
        if self._copy is not None:
            self._copy.stop()  # and with it the data it held
        if self._server not in (None, self._copy) and self._server.alive:
            for path in self._shared:
                self._server.unload(path)
        self._server = None
        shutil.rmtree(self._directory, ignore_errors=True)

    def _attach(self) -> _ForkServer:
        copy_alive = self._copy is not None and self._copy.alive
        server = self._copy if copy_alive else _ForkServer.get()
        if server is not self._server:  # the first task, or the server was restarted
            for path in self._shared + self._adopted:
                server.load(path)
            self._server = server
        return server

    def _handle(self, message: dict | None) -> list[Outcome]:
        if message is None:  # the fork server died: no running task can report
            for task in self._tasks.values():
                if task.pid is not None:
                    kill_group(task.pid)  # else it would run on, orphaned, for nothing
            return [
                self._finish(task, "crashed", "the fork server died")
                for task in list(self._tasks.values())
            ]
        task = self._tasks.get(message.get("id"))
        if task is None:
            return []
        if message["op"] == "started":
            task.pid, task.started = message["pid"], time.monotonic()
            if task.killed_for:
                kill_group(task.pid)
            return []
        return [self._collect(task, message["status"])]

    def _collect(self, task: _Task, status: int) -> Outcome:
        result = task.directory / "result.pkl"
        if result.exists():
            with open(result, "rb") as file:
                kind, payload = pickle.load(file)
            return self._finish(task, kind, error="" if kind == "ok" else payload, value=payload)
        if task.killed_for:
            limit = f"{task.time_limit:.1f}"
            reason = (
                f"stopped after the time limit of {limit} s"
                if task.killed_for == "timeout"
                else task.killed_for
            )
            return self._finish(task, task.killed_for, reason)
        reason = _crash_reason(status, task.directory / "log.txt")
        return self._finish(task, "memout" if out_of_memory(reason) else "crashed", reason)

    def _finish(self, task: _Task, status: str, error: str = "", value: Any = None) -> Outcome:
        del self._tasks[task.task_id]
        duration = time.monotonic() - (task.started or task.submitted)
        shutil.rmtree(task.directory, ignore_errors=True)
        return Outcome(task.task_id, status, value if status == "ok" else None, error, duration)

    def _kill_overdue(self) -> None:
        now = time.monotonic()
        for task in self._tasks.values():
            if task.started is not None and now - task.started > task.time_limit:
                self._kill(task, "timeout")

    def _kill(self, task: _Task, reason: str) -> None:
        if not task.killed_for:
            task.killed_for = reason
            if task.pid is not None:
                kill_group(task.pid)
            elif self._server is not None and self._server.alive:
                self._server.kill(task.task_id)


def start_fork_server() -> None:
    """Start this process's fork server now, so that its first task need not wait for it."""
    _ForkServer.get()


def forget(path: str) -> None:
    """Let this process's fork server drop the data at ``path`` (see :meth:`WorkerPool.adopt`)."""
    with _ForkServer._lock:
        server = _ForkServer._current
    if server is not None and server.alive:
        server.unload(path)


def available_memory() -> int | None:
    """Bytes of memory available to new allocations now (Linux), or None if unknown."""
    try:
        with open("/proc/meminfo") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError):
        return None


def _crash_reason(status: int, log: Path) -> str:
    if status < 0:
        reason = f"killed by signal {signal.Signals(-status).name}"
    else:
        reason = f"exited with code {status}"
    try:
        tail = log.read_text(errors="replace")[-_LOG_TAIL_CHARS:].strip()
    except OSError:
        tail = ""
    return f"{reason}: {tail}" if tail else reason
