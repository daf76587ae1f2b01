"""The fork server: a process that forks one child per task, and what runs in the child.

It reads one JSON command a line on stdin (load or unload shared data, run or kill a
task, exit) and writes events on stdout (a task's child started, or exited). A child
leaves its result in the task's directory; :mod:`automl.workers` is the other side.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import pickle
import resource
import select
import signal
import sys
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
from threadpoolctl import threadpool_limits

#: Modules the fork server imports once, so that children start warm.
PRELOAD = ("automl.evaluation", "automl.components", "sklearn.ensemble", "lightgbm", "xgboost")
#: How often the server looks for ended children, and the pool for overdue tasks.
POLL_SECONDS = 0.02
#: What running out of memory looks like, from Python, C++ and the C library.
_OUT_OF_MEMORY = ("MemoryError", "bad_alloc", "Cannot allocate memory", "out of memory")
_SHARED: dict[str, Any] = {}


@dataclass(frozen=True)
class Shared:
    """A reference to data the fork server holds; a task's argument resolves to the data."""

    path: str


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
            kill_group(pid)


def _serve(children: dict[int, int], parent: int) -> None:
    pending = b""
    while True:
        readable, _, _ = select.select([0], [], [], POLL_SECONDS)
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
                kill_group(pid)
    elif command["op"] == "run":
        pid = os.fork()
        if pid == 0:
            _child(Path(command["dir"]), command.get("memory"))
        _own_group(pid)
        children[pid] = command["id"]
        _emit({"op": "started", "id": command["id"], "pid": pid})
    return command["op"] == "exit"


def serve_as_copy(commands: int, events: int) -> None:
    """Serve in a copy of the caller, on the pipes ``commands`` and ``events``; never returns."""
    try:
        gc.freeze()  # the caller's objects: never collected here, their finalizers never run
        os.dup2(commands, 0)
        os.dup2(events, 1)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # the caller's files and pipes are not ours
        # The caller's buffered output must not reach the pipe, nor its handlers run here.
        sys.stdin = sys.stdout = open(os.devnull, "r+")  # noqa: SIM115 (for the server's life)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        for signum in signal.valid_signals():
            if callable(signal.getsignal(signum)):
                signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # reaping the children needs it
        serve()
    finally:
        os._exit(0)


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
            allowed = _data_size() + memory_limit  # beyond what the fork server holds
            resource.setrlimit(resource.RLIMIT_DATA, (allowed, allowed))
        log = os.open(directory / "log.txt", os.O_WRONLY | os.O_CREAT, 0o644)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log, 1)  # the fork server's stdout is our protocol: keep it clean
        os.dup2(log, 2)
        _write_result(directory, _run(directory / "task.pkl"))
    finally:
        os._exit(0)


def _data_size() -> int:
    """Bytes of this process's data segment (what ``RLIMIT_DATA`` counts), 0 if unknown."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    return 0


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
        return ("memout" if out_of_memory(message) else "failed"), message


def _resolve(shared: Shared) -> Any:
    if shared.path not in _SHARED:
        _SHARED[shared.path] = joblib.load(shared.path, mmap_mode="r")
    return _SHARED[shared.path]


def _write_result(directory: Path, result: tuple[str, Any]) -> None:
    partial = directory / "result.partial"
    with open(partial, "wb") as file:
        pickle.dump(result, file, protocol=pickle.HIGHEST_PROTOCOL)
    partial.rename(directory / "result.pkl")  # atomic: a reader never sees half a result


def kill_group(pid: int) -> None:
    """Kill a task's child and whatever it started (its process group)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:  # not yet in its own group, or gone
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def out_of_memory(message: str) -> bool:
    """Whether a task's error message says that it ran out of memory."""
    return any(sign in message for sign in _OUT_OF_MEMORY)
