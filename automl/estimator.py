"""AutoClassifier: the scikit-learn estimator that searches for a pipeline and is it."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
import time
import warnings
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import VotingClassifier
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from automl.budget import Budget
from automl.checkpoint import Journal, fingerprint
from automl.cluster import DaskPool
from automl.components import default_grammar
from automl.data import check_prediction_data, check_training_data
from automl.ensemble import EnsembleSelector, bagged_ensemble, voting_ensemble
from automl.evaluation import Dataset, make_folds
from automl.export import model_source, save_model
from automl.grammar import PipelineSpec
from automl.history import History
from automl.knowledge import KnowledgeBase
from automl.metafeatures import compute_metafeatures
from automl.metrics import METRICS, get_metric
from automl.progress import Progress
from automl.refit import refit_best, refit_ensemble
from automl.report import write_report
from automl.runner import EvaluationRunner
from automl.search import SEARCHERS
from automl.search.base import TimeBlind
from automl.search.halving import SuccessiveHalving, fidelity_levels
from automl.search.loop import run_search
from automl.warmstart import opening, warm_start_pipelines
from automl.workers import WorkerPool

#: Share of the time budget that one evaluation may take, and a floor in seconds.
_EVAL_SHARE, _EVAL_FLOOR = 0.25, 5.0


class AutoClassifier(ClassifierMixin, BaseEstimator):
    """Finds a scikit-learn pipeline for a classification task within a time budget.

    ``fit`` searches pipelines of imputation, encoding, scaling, feature
    preprocessing and a classifier, scores each by cross-validation in a worker
    process of its own, and refits the best on all rows. The fitted object then
    predicts like any classifier, and :meth:`export` writes the best pipeline as a
    pickle that needs only scikit-learn, LightGBM and XGBoost to load.

    Parameters
    ----------
    time_budget : float or None
        Seconds that ``fit`` may take, the final refit included. None for no
        time limit, in which case ``max_evals`` must be set.
    metric : str
        What the search optimises: ``"auto"`` (ROC AUC for two classes, log loss
        for more), ``"roc_auc"``, ``"log_loss"``, ``"accuracy"``,
        ``"balanced_accuracy"`` or ``"f1_macro"``.
    n_jobs : int
        Evaluations run at once, one core each; -1 for every core (with
        ``scheduler``: every thread of the cluster's workers).
    scheduler : str or None
        Address of a Dask distributed scheduler (``"tcp://host:8786"``) whose
        workers run the evaluations and refits, under the same limits and with the
        same results as on this machine; None runs them here. Needs
        ``pip install "automl[dask]"`` here and automl on every worker.
    random_state : int, RandomState instance or None
        Seeds the folds, the search and every model.
    max_evals : int or None
        Stop after this many evaluations. With a seed and ``n_jobs=1`` the
        result is then the same on every run, whatever the machine's speed.
    eval_time_limit : float or None
        Seconds one evaluation may take before it is stopped. None: a quarter of
        ``time_budget`` (at least 5 s), or no limit without a time budget.
    memory_limit : float, "auto" or None
        Megabytes of memory that one evaluation (or refit) may allocate; one that
        needs more is stopped and recorded as ``memout``, and the search goes on.
        ``"auto"``: 80% of the memory available when ``fit`` starts, shared among
        the ``n_jobs`` evaluations (on a cluster: 80% of a worker's Dask memory
        limit per thread); None: no limit. (Linux enforces it as
        ``RLIMIT_DATA``: the heap and private mappings, not the shared data.)
    cv : int
        Cross-validation folds; data with over 10,000 rows uses one holdout split.
    search : str
        The search strategy: ``"hybrid"`` (evolution whose poor children a surrogate
        model screens out), ``"evolution"``, ``"bayes"`` or ``"random"``.
    checkpoint : str, path or None
        A directory where every finished evaluation is journaled as it ends. A
        ``fit`` on the same data with the same settings (``metric``, ``cv``,
        ``search``, ``random_state``, ``warm_start``) reads it back and does not run
        those evaluations again: a killed or interrupted search resumes where it
        stopped. Needs an integer ``random_state``.
    warm_start : bool or KnowledgeBase
        True: the search opens with pipelines that did well on similar reference
        datasets (by meta-features, from the knowledge base shipped in
        ``metadata/``) and the defaults of the classifiers they leave out; below
        1,000 rows with every default first, then those pipelines. False: from the
        defaults alone (a cold start). A :class:`~automl.knowledge.KnowledgeBase`
        is used instead of the shipped one. (Not scikit-learn's ``warm_start``: ``fit``
        never reuses an earlier fit.)
    ensemble_size : int
        Picks of the greedy ensemble selection over the best pipelines' out-of-fold
        predictions; the final model averages the picked pipelines' probabilities,
        each weighted by how often it was picked. 1 gives the single best pipeline.
    verbose : int
        0 is silent; 1 shows a progress line on stderr.

    Attributes
    ----------
    classes_ : ndarray
        The class labels, sorted.
    model_ : sklearn.ensemble.VotingClassifier or sklearn.pipeline.Pipeline
        What ``predict`` uses: the soft vote of the ensemble's pipelines, or the
        single best pipeline; fitted on all rows.
    ensemble_ : list of (PipelineSpec, float)
        The members of ``model_`` and their weights, heaviest first.
    best_pipeline_ : sklearn.pipeline.Pipeline
        The best single pipeline (by cross-validation) among them, fitted on all rows.
    best_pipeline_spec_ : PipelineSpec
        Its description in the pipeline grammar.
    best_score_ : float
        Its mean cross-validation score on ``metric_``.
    interrupted_ : bool
        Whether Ctrl-C or SIGTERM ended the search early.
    metric_ : str
        The metric used (``"auto"`` resolved).
    history_ : History
        Every evaluation of the search; :meth:`leaderboard` shows it as a table.
    n_features_in_ : int
    feature_names_in_ : ndarray
        Only when ``X`` had string column names.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    >>> model = AutoClassifier(time_budget=30, random_state=0).fit(X, y)  # doctest: +SKIP
    >>> model.leaderboard().head()  # doctest: +SKIP
    """

    def __init__(
        self,
        time_budget: float | None = 60,
        *,
        metric: str = "auto",
        n_jobs: int = 1,
        scheduler: str | None = None,
        random_state=None,
        max_evals: int | None = None,
        eval_time_limit: float | None = None,
        memory_limit: float | str | None = "auto",
        cv: int = 5,
        search: str = "hybrid",
        checkpoint: str | os.PathLike | None = None,
        warm_start: bool | KnowledgeBase = True,
        ensemble_size: int = 20,
        verbose: int = 0,
    ):
        self.time_budget = time_budget
        self.metric = metric
        self.n_jobs = n_jobs
        self.scheduler = scheduler
        self.random_state = random_state
        self.max_evals = max_evals
        self.eval_time_limit = eval_time_limit
        self.memory_limit = memory_limit
        self.cv = cv
        self.search = search
        self.checkpoint = checkpoint
        self.warm_start = warm_start
        self.ensemble_size = ensemble_size
        self.verbose = verbose

    def fit(self, X, y) -> AutoClassifier:
        """Search for the best pipeline on ``X, y`` and refit it on all rows."""
        clock = time.monotonic
        start = clock()
        self._check_params()
        # Started first: a fresh fork server imports the libraries while the data is checked.
        with self._pool() as pool:
            n_jobs = pool.n_cores if self.n_jobs == -1 else self.n_jobs
            data = check_training_data(X, y)
            seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
            metric = get_metric(self.metric, data.profile.n_classes)
            folds = make_folds(data.y_codes, cv=self.cv, random_state=seed)
            grammar = default_grammar(data.profile)
            budget = Budget(start, self.time_budget, self.max_evals, self._eval_time_limit())
            dataset = Dataset(data.X, data.y, data.y_codes, folds, data.profile.n_classes)
            runner = EvaluationRunner(
                pool, dataset, grammar, metric, random_state=seed, clock=clock, start=start,
                memory_limit=self._memory_limit_bytes(pool, n_jobs),
                journal=self._journal(X, y, seed, metric),
            )  # fmt: skip
            history = History(metric, prefer_faster=self._time_aware)
            progress = Progress(time_budget=self.time_budget, clock=clock, start=start)
            seeds = self._seeds(data, grammar, folds, n_jobs)
            selector = EnsembleSelector(data.y_codes, metric, self.ensemble_size)
            with _interruptible(runner, history) as interruption:
                run_search(
                    self._searcher(grammar, metric, folds, seeds, seed),
                    runner,
                    history,
                    budget=budget,
                    n_jobs=n_jobs,
                    clock=clock,
                    # With k folds the members are bagged, not refitted: no time to keep.
                    ensemble=selector if len(folds) == 1 else lambda history: (),
                    on_trial=progress if self.verbose else lambda history: None,
                )
            if self.verbose:
                progress.close(history)
            final = self._final_model(runner, history, data, selector, budget, clock, n_jobs)

        self.classes_ = data.classes
        self.n_features_in_ = data.X.shape[1]
        if data.feature_names is not None:
            self.feature_names_in_ = data.feature_names
        self.profile_ = data.profile
        self.metric_ = metric.name
        self.cv_ = folds.description
        self.history_ = history
        self.model_, self.ensemble_, best, self.best_pipeline_ = final
        self.best_pipeline_spec_ = best.pipeline
        self.best_score_ = best.score
        self.seed_ = seed
        self.interrupted_ = interruption["happened"]
        self.fit_time_ = clock() - start
        return self

    def _final_model(self, runner, history, data, selector, budget, clock, n_jobs) -> tuple:
        """``(model_, ensemble_, best trial, best_pipeline_)``.

        With k-fold cross-validation the ensemble's members are bagged: their fold
        models vote, and only the best pipeline is refitted (for ``best_pipeline_``).
        On large data (one holdout split) the members are refitted on all rows, within
        the time budget only, or vote with their fold models; a single pipeline may also
        take the small overrun the budget allows, rather than there be no model. A best
        pipeline fitted on a share of the rows only stands alone (:class:`EnsembleSelector`).
        """

        def time_left() -> float:
            return budget.time_left(clock())

        def stand_in(fold_model):
            return _with_labels(fold_model, data)

        bagging = len(runner.folds) > 1
        chosen = selector(history)
        model = bagging and bagged_ensemble(chosen, data.X, data.y, data.profile.n_classes)
        refitted = {}
        if not model and len(chosen) > 1:
            members = refit_ensemble(runner, chosen, time_left, n_jobs=n_jobs, stand_in=stand_in)
            if members:
                chosen = [(member.trial, member.weight) for member in members]
                refitted = {id(member.trial): member.model for member in members if member.refitted}
                model = voting_ensemble([(m.model, m.weight) for m in members], data.X, data.y)
        best = history.best()
        if id(best) in refitted:
            pipeline = refitted[id(best)]
        else:
            best, pipeline = refit_best(
                runner,
                history,
                lambda: budget.last_step_time_left(clock()),
                stand_in=stand_in,
            )
        if not model:
            return pipeline, [(best.pipeline, 1.0)], best, pipeline
        return model, [(trial.pipeline, weight) for trial, weight in chosen], best, pipeline

    def _seeds(self, data, grammar, folds, n_jobs: int) -> list[PipelineSpec]:
        """The warm start's pipelines and the defaults, in the order the search opens with."""
        defaults = grammar.default_pipelines()
        knowledge = self._knowledge()
        if len(knowledge) == 0:
            return defaults
        metafeatures = compute_metafeatures(data.X, data.y_codes, data.profile)
        seconds = self.time_budget and self.time_budget * n_jobs
        first_look = fidelity_levels(folds)[0].fits_per_row(folds)
        warm = warm_start_pipelines(
            knowledge, metafeatures, grammar, seconds=seconds, first_look_fits=first_look
        )
        return opening(warm, defaults, defaults_first=folds.n_repeats > 1)

    def _knowledge(self) -> KnowledgeBase:
        if isinstance(self.warm_start, KnowledgeBase):
            return self.warm_start
        return KnowledgeBase.load() if self.warm_start else KnowledgeBase.empty()

    def _searcher(self, grammar, metric, folds, seeds, seed: int) -> SuccessiveHalving:
        """The chosen strategy, opening with the seeds, behind successive halving."""
        searcher = SEARCHERS[self.search](grammar, metric, seeds=seeds, random_state=seed)
        if not self._time_aware:
            searcher = TimeBlind(searcher)
        return SuccessiveHalving(searcher, metric, fidelity_levels(folds))

    @property
    def _time_aware(self) -> bool:
        """Only under a time budget do measured times steer the search: a count budget
        with a seed then gives the same search on every run."""
        return self.time_budget is not None

    def predict(self, X) -> np.ndarray:
        """Class labels for the rows of ``X``."""
        X = self._check_X(X)
        return self.model_.predict(X)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, one column per class of ``classes_``."""
        X = self._check_X(X)
        return self.model_.predict_proba(X)

    def leaderboard(self):
        """Every evaluated pipeline as a DataFrame, the best first, with its ensemble weight."""
        check_is_fitted(self)
        board = self.history_.leaderboard()
        weights = {pipeline.key: weight for pipeline, weight in self.ensemble_}
        # A member is its pipeline's most complete evaluation, listed before its others.
        member = board["status"].eq("ok") & ~board["key"].duplicated()
        board.insert(2, "weight", board["key"].map(weights).where(member).fillna(0.0))
        return board

    def export(self, path: str | os.PathLike, *, ensemble: bool = True) -> None:
        """Write the model to ``path``: a pickle and its manifest (``path + '.json'``), or,
        for a path ending in ``.py``, Python source that rebuilds and refits it.

        ``ensemble=False`` writes the best single pipeline instead of the ensemble.
        Either pickle loads with ``pickle.load`` where scikit-learn, LightGBM and
        XGBoost are installed; :func:`automl.load_model` also checks it first. The
        source needs only those libraries and pandas.
        """
        check_is_fitted(self)
        model = self.model_ if ensemble else self.best_pipeline_
        description = self._description(ensemble=ensemble)
        if os.fspath(path).endswith(".py"):
            source = model_source(self._unfitted(ensemble), description, filename=Path(path).name)
            Path(path).write_text(source)
        else:
            save_model(model, path, description)

    def _unfitted(self, ensemble: bool):
        """The model as the grammar builds it, unfitted: what exported source refits.

        An ensemble becomes a soft vote of its member pipelines, each refitted on all
        rows (the fitted ensemble averages their fold models instead).
        """
        grammar = default_grammar(self.profile_)
        members = self.ensemble_ if ensemble else [(self.best_pipeline_spec_, 1.0)]
        pipelines = [grammar.build(spec, random_state=self.seed_) for spec, _ in members]
        if len(pipelines) == 1:
            return pipelines[0]
        estimators = [(f"member_{i}", pipeline) for i, pipeline in enumerate(pipelines)]
        return VotingClassifier(estimators, voting="soft", weights=[w for _, w in members])

    def report(self, path: str | os.PathLike) -> None:
        """Write an HTML page about the search and the model to ``path``.

        Scores over time by model family, the ensemble's weights, hyperparameter
        importance and the leaderboard; ``automl report model.pkl`` writes the same
        page from an exported model.
        """
        check_is_fitted(self)
        write_report(self._description(ensemble=True), path)

    def _description(self, *, ensemble: bool) -> dict:
        profile = self.profile_
        members = self.ensemble_ if ensemble else [(self.best_pipeline_spec_, 1.0)]
        return {
            "classes": list(self.classes_),
            "n_features": self.n_features_in_,
            "features": {
                "numeric": list(profile.numeric_columns),
                "categorical": list(profile.categorical_columns),
            },
            "metric": self.metric_,
            "cv_score": self.best_score_,
            "validation": self.cv_,
            "pipeline": self.best_pipeline_spec_.to_dict(),
            "description": self.best_pipeline_spec_.describe(),
            "n_evaluations": len(self.history_),
            "ensemble": [
                {"weight": weight, "description": p.describe(), "pipeline": p.to_dict()}
                for p, weight in members
            ],
            "history": [_trial_record(trial) for trial in self.history_.trials],
        }

    def _check_X(self, X):
        check_is_fitted(self)
        names = getattr(self, "feature_names_in_", None)
        X = check_prediction_data(X, names)
        validate_data(self, X, reset=False, skip_check_array=True)
        if names is not None and not isinstance(X, pd.DataFrame):
            # The pipeline selects columns by name; scikit-learn has warned already.
            X = pd.DataFrame(X, columns=names)
        return X

    def _check_params(self) -> None:
        if self.time_budget is None and self.max_evals is None:
            raise ValueError(
                "Set time_budget (seconds) or max_evals; both are None, so fit would never end."
            )
        _check_positive("time_budget", self.time_budget, Real, allow_none=True)
        _check_positive("max_evals", self.max_evals, Integral, allow_none=True)
        _check_positive("eval_time_limit", self.eval_time_limit, Real, allow_none=True)
        if not (isinstance(self.memory_limit, str) and self.memory_limit == "auto"):
            limit = self.memory_limit
            if limit is not None and (
                not isinstance(limit, Real) or isinstance(limit, bool) or limit <= 0
            ):
                raise ValueError(
                    f"memory_limit must be a number greater than 0 (megabytes), 'auto' or "
                    f"None; got {limit!r}."
                )
        _check_positive("ensemble_size", self.ensemble_size, Integral)
        if not isinstance(self.verbose, Integral) or self.verbose < 0:
            raise ValueError(f"verbose must be an integer of at least 0; got {self.verbose!r}.")
        if not isinstance(self.cv, Integral) or isinstance(self.cv, bool) or self.cv < 2:
            raise ValueError(f"cv must be an integer of at least 2; got {self.cv!r}.")
        if not isinstance(self.n_jobs, Integral) or self.n_jobs == 0 or self.n_jobs < -1:
            raise ValueError(
                f"n_jobs must be a positive integer or -1 (every core); got {self.n_jobs!r}."
            )
        if self.scheduler is not None and not (isinstance(self.scheduler, str) and self.scheduler):
            raise ValueError(
                "scheduler must be the address of a Dask scheduler, such as "
                f"'tcp://10.0.0.5:8786', or None; got {self.scheduler!r}."
            )
        if self.metric != "auto" and self.metric not in METRICS:
            raise ValueError(f"Unknown metric {self.metric!r}; choose one of {['auto', *METRICS]}.")
        if not isinstance(self.warm_start, (bool, np.bool_, KnowledgeBase)):
            raise ValueError(
                f"warm_start must be True, False or a KnowledgeBase; got {self.warm_start!r}."
            )
        if self.checkpoint is not None and not isinstance(self.random_state, Integral):
            raise ValueError(
                "checkpoint needs an integer random_state: a search can only be resumed "
                f"if it makes the same choices again; got random_state={self.random_state!r}."
            )
        if self.search not in SEARCHERS:
            raise ValueError(f"Unknown search {self.search!r}; choose one of {list(SEARCHERS)}.")

    def _eval_time_limit(self) -> float:
        if self.eval_time_limit is not None:
            return float(self.eval_time_limit)
        if self.time_budget is None:
            return math.inf
        return max(_EVAL_FLOOR, _EVAL_SHARE * self.time_budget)

    def _journal(self, X, y, seed: int, metric) -> Journal | None:
        if self.checkpoint is None:
            return None
        settings = {
            "metric": metric.name,
            "cv": self.cv,
            "search": self.search,
            "random_state": seed,
            "warm_start": self.warm_start if isinstance(self.warm_start, bool) else "custom",
        }
        return Journal(self.checkpoint, fingerprint(X, y, settings), metric)

    def _pool(self) -> WorkerPool | DaskPool:
        return WorkerPool() if self.scheduler is None else DaskPool(self.scheduler)

    def _memory_limit_bytes(self, pool, n_jobs: int) -> int | None:
        if self.memory_limit is None:
            return None
        if self.memory_limit == "auto":
            return pool.default_memory_limit(n_jobs)
        return int(self.memory_limit * 2**20)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        return tags


def _with_labels(fold_model, data):
    """A fold model (it predicts class codes) as a model of the labels, if it knows them all.

    The one-member soft vote is plain scikit-learn: its label encoder maps the codes
    back, so the exported pickle stays loadable without automl.
    """
    if len(fold_model.classes_) != data.profile.n_classes:
        return None
    return voting_ensemble([(fold_model, 1.0)], data.X, data.y)


@contextlib.contextmanager
def _interruptible(runner: EvaluationRunner, history: History):
    """Ctrl-C or SIGTERM end the search, not the fit: the best pipeline so far is kept.

    The running evaluations are stopped; ``fit`` then goes on to the ensemble and
    refit as after a normal end (a second interrupt aborts it). With nothing
    evaluated yet, the interrupt propagates.
    """
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if in_main_thread else None
    if in_main_thread:
        signal.signal(signal.SIGTERM, _raise_interrupt)
    interruption = {"happened": False}
    try:
        yield interruption
    except KeyboardInterrupt:
        interruption["happened"] = True
        runner.cancel()
        if history.best() is None:
            raise
        warnings.warn(
            f"Interrupted after {len(history)} evaluations: keeping the best so far.",
            UserWarning,
            stacklevel=4,
        )
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def _trial_record(trial) -> dict:
    """What the report needs of one evaluation, as JSON values (no NaN)."""

    def number(value: float) -> float | None:
        return float(value) if math.isfinite(value) else None

    return {
        "number": trial.number,
        "finished_at": number(trial.finished_at),
        "score": number(trial.score),
        "score_std": number(trial.score_std),
        "status": trial.status,
        "fidelity": str(trial.fidelity),
        "origin": trial.origin,
        "fit_time": number(trial.fit_time),
        "description": trial.pipeline.describe(),
        "pipeline": trial.pipeline.to_dict(),
    }


def _check_positive(name: str, value, kind: type, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, kind) or isinstance(value, bool) or not value > 0:
        expected = "an integer" if kind is Integral else "a number"
        none = " or None" if allow_none else ""
        raise ValueError(f"{name} must be {expected} greater than 0{none}; got {value!r}.")
