"""scikit-learn's own estimator contract, run on AutoClassifier."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from automl import AutoClassifier

#: Checks that contradict what AutoClassifier promises, each with the reason.
EXPECTED_FAILED_CHECKS: dict[str, str] = {}


def _small_budget() -> AutoClassifier:
    # A count budget keeps every check fast and deterministic.
    return AutoClassifier(time_budget=None, max_evals=2, random_state=0)


@parametrize_with_checks(
    [_small_budget()], expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS
)
def test_sklearn_contract(estimator, check):
    check(estimator)
