"""Ctrl-C or SIGTERM during fit: the best model so far comes back, no process is left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from tests.helpers import REPO

SCRIPT = textwrap.dedent(
    """
    import faulthandler, signal, sys, warnings
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # the stacks, if it hangs
    # Ctrl-C as at a terminal: started from a shell's background job (the test suite
    # run with "&"), Python inherits SIGINT ignored and never raises KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from sklearn.datasets import make_classification
    from automl import AutoClassifier
    X, y = make_classification(400, 10, random_state=0)
    print("fitting", flush=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = AutoClassifier(time_budget=300, random_state=0).fit(X, y)
    print("evaluations", len(model.history_), flush=True)
    print("accuracy", model.score(X, y), flush=True)
    print("warned", any("Interrupted" in str(w.message) for w in caught), flush=True)
    print("interrupted", model.interrupted_, flush=True)
    """
)


def _communicate_or_dump_stacks(run: subprocess.Popen, timeout: float) -> tuple[str, str]:
    """``run``'s output once it ends; if it has not ended in ``timeout`` s, fail with
    the stacks of its threads, so that a rare hang shows where it happens."""
    try:
        return run.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        if run.poll() is not None:  # it ended, but something it started holds its output
            pytest.fail(f"exited with {run.returncode}; a process it started lives on")
        run.send_signal(signal.SIGUSR1)
        time.sleep(2)
        run.kill()
        _, err = run.communicate()
        pytest.fail(f"no return within {timeout} s of the signal; its stacks:\n{err[-6000:]}")


def _processes_with(marker: str) -> list[int]:
    """Live processes whose environment carries ``marker``: the run and all it started."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.skipif(not Path("/proc").exists(), reason="finds processes through /proc")
@pytest.mark.parametrize(
    ("signum", "to_group"),
    [(signal.SIGINT, True), (signal.SIGTERM, False), (signal.SIGTERM, True)],
    # A terminal's Ctrl-C, `timeout` and service managers signal the whole process
    # group, the fork server included; `kill PID` signals the fit's process alone.
    ids=["ctrl-c", "sigterm", "sigterm-to-the-group"],
)
def test_an_interrupted_fit_returns_the_best_so_far_and_leaves_no_process(signum, to_group):
    marker = f"AUTOML_TEST_RUN={uuid.uuid4().hex}"
    key, value = marker.split("=")
    env = {**os.environ, "PYTHONPATH": str(REPO), key: value}
    run = subprocess.Popen(
        [sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env, start_new_session=True,
    )  # fmt: skip
    assert run.stdout.readline().strip() == "fitting"
    time.sleep(12)  # long enough for a few evaluations, far from the 300 s budget
    started = time.monotonic()
    if to_group:
        os.killpg(run.pid, signum)
    else:
        run.send_signal(signum)
    out, err = _communicate_or_dump_stacks(run, timeout=60)
    assert run.returncode == 0, err[-2000:]
    assert "Traceback" not in err, err[-2000:]  # the fork server too took it quietly
    assert time.monotonic() - started < 30
    lines = dict(line.split(" ", 1) for line in out.strip().splitlines())
    assert int(lines["evaluations"]) >= 1
    assert float(lines["accuracy"]) > 0.7
    assert lines["warned"] == "True" and lines["interrupted"] == "True"
    time.sleep(1)  # the fork server notices that its parent is gone within a poll
    assert _processes_with(marker) == []
