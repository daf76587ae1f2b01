"""Run tasks in child processes that can be stopped, each on its own.

A pool starts one *fork server*: a fresh Python process (``python -c``, so it never
imports the user's ``__main__``) that imports scikit-learn, LightGBM and XGBoost
once and holds the shared data. For each task it forks a child, which inherits
all of that for free. A child runs in its own process group; the pool kills the
whole group when the task's time limit passes, even inside native code, and only
that task is lost. The fork server itself never runs a model, so forking it is
safe with OpenMP.

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
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cloudpickle
import joblib
from threadpoolctl import threadpool_limits

#: Modules the fork server imports once, so that children start warm.
PRELOAD = ("automl.evaluation", "automl.components", "sklearn.ensemble", "lightgbm", "xgboost")
#: Environment of the fork server: one thread per process for every numeric library.
_ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
_POLL_SECONDS = 0.02
_LOG_TAIL_CHARS = 2000
#: What running out of memory looks like, from Python, C++ and the C library.
_OUT_OF_MEMORY = ("MemoryError", "bad_alloc", "Cannot allocate memory", "out of memory")


@dataclass(frozen=True)
class Shared:
    """A reference to data the fork server holds; a task's argument resolves to the data."""

    path: str


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
    """The fork server of this process: started on first use and shared by every pool.

    Sharing it saves each ``fit`` the second or two that importing the libraries takes.
    """

    _current: _ForkServer | None = None
    _lock = threading.Lock()

    @classmethod
    def get(cls) -> _ForkServer:
        with cls._lock:
            if cls._current is None or not cls._current.alive:
                cls._current = cls()
            return cls._current

    def __init__(self):
        env = {**os.environ, **_ONE_THREAD, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self._process = subprocess.Popen(
            [sys.executable, "-c", "from automl.workers import serve; serve()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self._ids = itertools.count()
        self._inboxes: dict[int, queue.Queue] = {}
        self._write_lock = threading.Lock()
        threading.Thread(target=self._dispatch, daemon=True).start()

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

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
        self._attach()  # start the server now: it imports while the caller prepares

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
            wait_for = min(_POLL_SECONDS * 5, max(0.0, deadline - time.monotonic()))
            with contextlib.suppress(queue.Empty):
                outcomes.extend(self._handle(self._inbox.get(timeout=wait_for)))
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
        if self._server is not None and self._server.alive:
            for path in self._shared:
                self._server.unload(path)
        self._server = None
        shutil.rmtree(self._directory, ignore_errors=True)

    def _attach(self) -> _ForkServer:
        server = _ForkServer.get()
        if server is not self._server:  # the first task, or the server was restarted
            for path in self._shared + self._adopted:
                server.load(path)
            self._server = server
        return server

    def _handle(self, message: dict | None) -> list[Outcome]:
        if message is None:  # the fork server died, and with it every running task
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
                _kill_group(task.pid)
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
        return self._finish(task, "memout" if _out_of_memory(reason) else "crashed", reason)

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
                _kill_group(task.pid)
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


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:  # not yet in its own group, or gone
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _out_of_memory(message: str) -> bool:
    return any(sign in message for sign in _OUT_OF_MEMORY)


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


# -- the fork server itself -------------------------------------------------------
_SHARED: dict[str, Any] = {}


def serve() -> None:
    """Main loop of the fork server: one JSON command a line on stdin, events on stdout."""
    # Ctrl-C at a terminal, or a SIGTERM to the process group (timeout, a service
    # manager), reaches this server too. The parent decides what it means: it ends the
    # search, then refits through this server, which must still be there. The server
    # ends when its parent does; the children it forks inherit this and are killed.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for module in PRELOAD:
        __import__(module)
    parent = os.getppid()
    children: dict[int, int] = {}
    try:
        _serve(children, parent)
    except BrokenPipeError:  # the parent died while we wrote to it
        pass
    finally:  # whyever we stop, no child outlives us
        for pid in children:
            _kill_group(pid)


def _serve(children: dict[int, int], parent: int) -> None:
    pending = b""
    while True:
        readable, _, _ = select.select([0], [], [], _POLL_SECONDS)
        if readable:
            chunk = os.read(0, 1 << 16)
            if not chunk:
                return
            *lines, pending = (pending + chunk).split(b"\n")
            if any(_obey(json.loads(line), children) for line in lines if line):
                return
        _reap(children)
        if os.getppid() != parent:  # our parent died without telling us
            return


def _obey(command: dict, children: dict[int, int]) -> bool:
    """Carry out one command; True means stop serving."""
    if command["op"] == "load":
        if command["path"] not in _SHARED:  # adopted data stays loaded across pools
            # Gone already (its owner finished): a task that needs it fails, not the server.
            with contextlib.suppress(OSError):
                _SHARED[command["path"]] = joblib.load(command["path"], mmap_mode="r")
    elif command["op"] == "unload":
        _SHARED.pop(command["path"], None)
    elif command["op"] == "kill":
        for pid, task_id in children.items():
            if task_id == command["id"]:
                _kill_group(pid)
    elif command["op"] == "run":
        pid = os.fork()
        if pid == 0:
            _child(Path(command["dir"]), command.get("memory"))
        _own_group(pid)
        children[pid] = command["id"]
        _emit({"op": "started", "id": command["id"], "pid": pid})
    return command["op"] == "exit"


def _own_group(pid: int) -> None:
    # Both sides set the group, so that it exists whichever runs first; OSError means
    # the child already did, or already exited.
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)


def _reap(children: dict[int, int]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        task_id = children.pop(pid, None)
        if task_id is not None:
            _emit({"op": "exited", "id": task_id, "status": os.waitstatus_to_exitcode(status)})


def _emit(message: dict) -> None:
    os.write(1, (json.dumps(message) + "\n").encode())


def _child(directory: Path, memory_limit: int | None) -> None:
    """Run one task in a forked child and leave its result in ``directory``; never returns."""
    try:
        os.setpgid(0, 0)
        if memory_limit is not None:
            resource.setrlimit(resource.RLIMIT_DATA, (memory_limit, memory_limit))
        log = os.open(directory / "log.txt", os.O_WRONLY | os.O_CREAT, 0o644)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log, 1)  # the fork server's stdout is our protocol: keep it clean
        os.dup2(log, 2)
        _write_result(directory, _run(directory / "task.pkl"))
    finally:
        os._exit(0)


def _run(task_path: Path) -> tuple[str, Any]:
    warnings.simplefilter("ignore")
    try:
        with open(task_path, "rb") as file:
            fn, args = pickle.load(file)
        args = [_resolve(a) if isinstance(a, Shared) else a for a in args]
        with threadpool_limits(1):
            return "ok", fn(*args)
    except Exception as error:  # the task's failure is its result, reported in full
        lines = traceback.format_exception(error)
        message = f"{type(error).__name__}: {error}\n{''.join(lines[-6:])}"
        return ("memout" if _out_of_memory(message) else "failed"), message


def _resolve(shared: Shared) -> Any:
    if shared.path not in _SHARED:
        _SHARED[shared.path] = joblib.load(shared.path, mmap_mode="r")
    return _SHARED[shared.path]


def _write_result(directory: Path, result: tuple[str, Any]) -> None:
    partial = directory / "result.partial"
    with open(partial, "wb") as file:
        pickle.dump(result, file, protocol=pickle.HIGHEST_PROTOCOL)
    partial.rename(directory / "result.pkl")  # atomic: a reader never sees half a result
