"""A seed and an evaluation count give the same search and the same model, run after run."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import textwrap

import numpy as np

from automl import AutoClassifier
from tests.helpers import REPO, mixed_frame

SCRIPT = textwrap.dedent(
    """
    import hashlib
    from automl import AutoClassifier
    from tests.helpers import mixed_frame
    X, y = mixed_frame(300)
    model = AutoClassifier(time_budget=None, max_evals=32, random_state=3).fit(X, y)
    for trial in model.history_.trials:
        print(trial.pipeline.key, trial.fidelity, repr(trial.score), trial.origin)
    print("proba", hashlib.sha256(model.predict_proba(X).tobytes()).hexdigest())
    """
)


def _run_in_fresh_process() -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            env=env, cwd=REPO, check=True)  # fmt: skip
    return result.stdout


def test_the_default_hybrid_search_repeats_exactly_in_fresh_processes():
    first, second = _run_in_fresh_process(), _run_in_fresh_process()
    assert first == second
    origins = {line.split()[-1] for line in first.splitlines()[:-1]}
    # 300 rows open with every default and then the seeds; 32 evaluations reach past them
    # to the surrogate's picks
    assert {"seed", "promoted", "hybrid"} <= origins
    assert len(first.splitlines()) == 33


def test_fit_leaves_the_global_random_state_alone():
    random.seed(11)
    np.random.seed(11)
    python_state, numpy_state = random.getstate(), np.random.get_state()
    AutoClassifier(time_budget=None, max_evals=3, random_state=0).fit(*mixed_frame(120))
    assert random.getstate() == python_state
    after = np.random.get_state()
    assert (
        hashlib.sha256(after[1].tobytes()).digest()
        == hashlib.sha256(numpy_state[1].tobytes()).digest()
        and after[2:] == numpy_state[2:]
    )
