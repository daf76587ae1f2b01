"""The HTML search report: structure, self-containment, and what its charts show."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest

from automl import AutoClassifier
from automl.report import MIN_TRIALS_FOR_IMPORTANCE, hyperparameter_importance
from tests.helpers import REPO, mixed_frame
from tests.test_cli import automl


class _Elements(HTMLParser):
    """Counts start tags by (tag, class) and collects every attribute value."""

    def __init__(self, text: str):
        super().__init__()
        self.counts: dict[tuple[str, str | None], int] = {}
        self.attributes: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        key = (tag, attrs.get("class"))
        self.counts[key] = self.counts.get(key, 0) + 1
        self.attributes += [v for v in attrs.values() if v]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    X, y = mixed_frame(300)
    model = AutoClassifier(
        time_budget=None, max_evals=12, random_state=0, search="random", metric="log_loss"
    ).fit(X, y)
    model.export(folder / "model.pkl")
    model.report(folder / "report.html")
    return model, folder


def test_the_report_shows_every_full_evaluation_and_the_ensemble(exported):
    model, folder = exported
    page = (folder / "report.html").read_text()
    elements = _Elements(page)
    full = [t for t in model.history_.trials if t.ok and t.fidelity.cost == 1.0]
    assert elements.counts[("circle", "point")] == len(full)
    assert elements.counts[("polyline", "best")] == 1
    assert elements.counts[("rect", "bar")] == len(model.ensemble_)
    assert elements.counts[("svg", None)] == 2  # scores over time, ensemble weights
    assert f"{model.best_score_:.4f}" in page
    assert "Too few evaluations" in page  # 12 evaluations leave fewer than 10 at full fidelity
    # Self-contained: nothing is fetched from anywhere.
    assert not any(v.startswith(("http:", "https:", "//")) and "w3.org" not in v
                   for v in elements.attributes)  # fmt: skip


def test_the_command_writes_the_same_page_from_the_exported_model(exported, tmp_path):
    _, folder = exported
    result = automl("report", str(folder / "model.pkl"), "--out", str(tmp_path / "r.html"),
                    cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "r.html").read_text() == (folder / "report.html").read_text()
    # A model exported before manifests carried the history gets a clear refusal.
    golden = json.loads((REPO / "pipelines" / "examples" / "churn_model.pkl.json").read_text())
    del golden["history"]
    (tmp_path / "old.pkl.json").write_text(json.dumps(golden))
    refused = automl("report", "old.pkl", cwd=tmp_path)
    assert refused.returncode == 2 and "without search history" in refused.stderr


def test_hyperparameter_importance_finds_what_drives_the_score():
    rng = np.random.default_rng(0)
    pipelines, scores = [], []
    for _ in range(60):
        classifier = rng.choice(["knn", "gaussian_nb"])
        neighbours = int(rng.integers(1, 50))
        params = (
            {"n_neighbors": neighbours, "p": int(rng.integers(1, 3))} if classifier == "knn" else {}
        )
        pipelines.append({"scaling": {"name": rng.choice(["standard", "none"]), "params": {}},
                          "classifier": {"name": classifier, "params": params}})  # fmt: skip
        scores.append((0.9 - 0.004 * neighbours if classifier == "knn" else 0.7)
                      + rng.normal(0, 0.005))  # fmt: skip
    importance = hyperparameter_importance(pipelines, np.array(scores))
    assert list(importance)[:2] in (["classifier", "knn.n_neighbors"],
                                    ["knn.n_neighbors", "classifier"])  # fmt: skip
    assert importance["scaling"] < 0.05 and importance["knn.p"] < 0.05
    assert sum(importance.values()) == pytest.approx(1.0)
    assert MIN_TRIALS_FOR_IMPORTANCE <= 60


@pytest.mark.skipif(
    shutil.which("chromium") is None, reason="needs Chromium (apt install chromium)"
)
def test_a_headless_browser_renders_the_page(exported, tmp_path):
    _, folder = exported
    screenshot = tmp_path / "report.png"
    subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={screenshot}",
         "--window-size=1000,1400", (folder / "report.html").as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    png = screenshot.read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000  # a page with charts, not blank
