"""Writing and reading exported models: a plain pickle and a JSON manifest beside it.

The pickle holds scikit-learn, LightGBM and XGBoost objects only, so that it
loads and predicts where automl is not installed. The manifest (``<path>.json``)
records what a reader needs to trust and use it: the library versions it was made
with, the sha256 of the pickle, the classes and the feature schema. See
``pipelines/README.md`` for the format.

Loading a pickle runs code: load only files you trust.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import pickle
import platform
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

from automl.source import python_source

FORMAT = "automl-model"
#: The types beyond skops' defaults that automl's pipelines are made of: the only
#: ones a .skops model may hold (tests sample pipelines to keep this complete).
SKOPS_TYPES = (
    "collections.OrderedDict",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "numpy.dtype",
    "numpy.mean",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.feature_selection._univariate_selection.f_classif",
    "sklearn.metrics._dist_metrics.ChebyshevDistance64",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.metrics._dist_metrics.ManhattanDistance64",
    "sklearn.metrics._dist_metrics.MinkowskiDistance64",
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.tree._tree.Tree",
    "sklearn.utils._bunch.Bunch",
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBClassifier",
)
FORMAT_VERSION = 1
#: The libraries whose versions must match for a pickle to load and predict the same.
LIBRARIES = ("scikit-learn", "lightgbm", "xgboost", "numpy", "scipy", "pandas")


def manifest_path(path: str | os.PathLike) -> Path:
    """Where the manifest of the model at ``path`` lives."""
    return Path(f"{os.fspath(path)}.json")


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries a model depends on, and Python's."""
    from automl import __version__  # the package's own version, installed or not

    versions: dict[str, str | None] = {"python": platform.python_version(), "automl": __version__}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def save_model(model: Any, path: str | os.PathLike, description: dict[str, Any]) -> Path:
    """Write ``model`` to ``path`` and its manifest beside it; returns the manifest's path.

    A path ending in ``.skops`` gets the skops format (see :func:`load_model`),
    any other a pickle. ``description`` (classes, features, scores, ...) is stored
    in the manifest as given.
    """
    if _is_skops(path):
        payload = _skops().dumps(model)
    else:
        payload = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "sha256": hashlib.sha256(payload).hexdigest(),
        "versions": library_versions(),
        **description,
    }
    path = Path(path)
    _write_atomically(path, payload)
    _write_atomically(manifest_path(path), _manifest_text(manifest).encode())
    return manifest_path(path)


def _manifest_text(manifest: dict[str, Any]) -> str:
    """Indented JSON, but the search history one evaluation a line: it can be long."""
    history = manifest.pop("history", None)
    text = json.dumps(manifest, indent=2, default=_jsonable)
    if history is None:
        return text
    rows = ",\n".join("    " + json.dumps(row, default=_jsonable) for row in history)
    return text[:-2] + f',\n  "history": [\n{rows}\n  ]\n}}'


def model_source(model: Any, description: dict[str, Any], *, filename: str) -> str:
    """Python source that rebuilds ``model`` (see :mod:`automl.source`)."""
    from automl import __version__

    members = description["ensemble"]
    title = (
        members[0]["description"]
        if len(members) == 1
        else f"An ensemble of {len(members)} pipelines: "
        + "; ".join(f"{m['weight']:.2f} x {m['description']}" for m in members)
    )
    summary = (
        f"the best pipeline scored {description['metric']} {description['cv_score']:.4f} "
        f"({description['validation']}) among {description['n_evaluations']} evaluated."
    )
    return python_source(
        model,
        title=title,
        summary=summary,
        metric=description["metric"],
        filename=filename,
        version=__version__,
    )


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """The manifest of the model at ``path``.

    Raises
    ------
    FileNotFoundError
        If the model has no manifest beside it.
    ValueError
        If the manifest is not one of ours.
    """
    where = manifest_path(path)
    if not where.exists():
        raise FileNotFoundError(
            f"{where} is missing: {path} was not exported by automl, or its manifest was "
            "not copied along. Without it the file cannot be checked before it is loaded; "
            "load it anyway only if you trust it (automl predict --trust, or "
            "load_model(path, trust=True))."
        )
    manifest = json.loads(where.read_text())
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{where} is not an automl model manifest.")
    return manifest


def load_model(path: str | os.PathLike, *, trust: bool = False) -> tuple[Any, dict[str, Any]]:
    """Load a model exported by :func:`save_model`, after checking it.

    Refuses a pickle without our manifest beside it, or whose sha256 differs from
    its manifest's (nothing is unpickled then), and warns when the installed library
    versions differ from those the model was made with. ``trust=True`` loads a
    pickle without a manifest: only for files you made or trust, as loading a
    pickle runs whatever code its author put in it.

    A ``.skops`` file is never unpickled: skops rebuilds only the types on
    :data:`SKOPS_TYPES` (those automl's pipelines are made of) and a file that
    holds any other is refused, whatever ``trust`` says.
    """
    if trust and not manifest_path(path).exists():
        return _deserialise(path, Path(path).read_bytes()), {}
    manifest = read_manifest(path)
    payload = Path(path).read_bytes()
    digest = hashlib.sha256(payload).hexdigest()
    if digest != manifest["sha256"]:
        raise ValueError(
            f"{path} does not match its manifest (sha256 {digest[:12]}... instead of "
            f"{manifest['sha256'][:12]}...): the file was changed after export. "
            "It was not loaded (even with trust: its manifest describes another file)."
        )
    drift = version_drift(manifest)
    if drift:
        warnings.warn(
            f"{path} was made with other library versions ({drift}); its predictions "
            "may differ or fail. Install those versions to be sure.",
            UserWarning,
            stacklevel=2,
        )
    return _deserialise(path, payload), manifest


def _deserialise(path: str | os.PathLike, payload: bytes) -> Any:
    if not _is_skops(path):
        return pickle.loads(payload)
    skops = _skops()
    untrusted = skops.get_untrusted_types(data=payload)
    unknown = sorted(set(untrusted) - set(SKOPS_TYPES))
    if unknown:
        raise ValueError(
            f"{path} holds types that automl's pipelines are not made of: {unknown}. "
            "It was not loaded. Load it with skops.io.load only if you trust its author."
        )
    return skops.loads(payload, trusted=untrusted)


def _is_skops(path: str | os.PathLike) -> bool:
    return os.fspath(path).endswith(".skops")


def _skops():
    try:
        import skops.io  # optional: only .skops files need it
    except ImportError as error:
        raise ImportError(
            "The .skops format needs the skops package: pip install 'automl[skops]'."
        ) from error
    return skops.io


def version_drift(manifest: dict[str, Any]) -> str:
    """The libraries whose installed version differs from the manifest's, as text."""
    installed = library_versions()
    changes = [
        f"{name} {made} -> {installed.get(name)}"
        for name, made in manifest.get("versions", {}).items()
        if name != "automl" and installed.get(name) != made
    ]
    return ", ".join(changes)


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.replace(path)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
