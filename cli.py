"""The ``automl`` command: fit, predict and info, a thin layer over the Python API.

The options of ``automl fit`` are read off :class:`automl.AutoClassifier`'s
signature and docstring, so that the two never disagree.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import gzip
import inspect
import io
import re
import sys
from pathlib import Path

import pandas as pd

from automl import AutoClassifier, load_model
from automl.build_knowledge import MIN_ROWS, build_knowledge_base
from automl.data import check_prediction_data
from automl.export import model_source, read_manifest, version_drift
from automl.report import write_report

#: Estimator parameters the command sets itself (progress is shown unless --quiet).
_NOT_OPTIONS = {"verbose"}
#: Short names users expect, for estimator parameters.
_ALIASES = {"random_state": "--seed"}
_SNIFF_BYTES = 1 << 16
_LEADERBOARD_ROWS = 10


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv``; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (
        ValueError,
        FileNotFoundError,
        KeyError,
        RuntimeError,
        ConnectionError,
        ImportError,
    ) as error:
        message = error.args[0] if error.args else str(error)
        print(f"automl {args.command}: error: {message}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="automl", description="Find, use and inspect classification pipelines."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    fit = commands.add_parser("fit", help="search for the best pipeline and write it as a pickle")
    fit.add_argument("data", help="CSV or TSV file (optionally .gz), with a header row")
    fit.add_argument("--target", required=True, help="name of the column to predict")
    fit.add_argument(
        "--out", default="model.pkl", help="where to write the model (default: %(default)s)"
    )
    fit.add_argument("--quiet", action="store_true", help="no progress display")
    _add_estimator_options(fit)
    fit.set_defaults(run=_fit)

    predict = commands.add_parser("predict", help="predict with a model written by 'automl fit'")
    predict.add_argument("model", help="the model pickle")
    predict.add_argument("data", help="CSV or TSV file with the same feature columns")
    predict.add_argument("--proba", action="store_true", help="also write class probabilities")
    predict.add_argument("--out", help="CSV file to write (default: standard output)")
    predict.add_argument(
        "--trust",
        action="store_true",
        help="load a pickle that has no automl manifest (it runs code when loaded: only "
        "for files you made or trust)",
    )
    predict.set_defaults(run=_predict)

    info = commands.add_parser("info", help="describe a model without loading it")
    info.add_argument("model", help="the model pickle")
    info.set_defaults(run=_info)

    export = commands.add_parser(
        "export", help="write a model as Python source that rebuilds and refits it"
    )
    export.add_argument("model", help="the model pickle")
    export.add_argument("--python", required=True, help="the .py file to write")
    export.set_defaults(run=_export)

    report = commands.add_parser("report", help="write an HTML report about a model's search")
    report.add_argument("model", help="the model pickle (its manifest is read, not the pickle)")
    report.add_argument("--out", default="report.html", help="default: %(default)s")
    report.set_defaults(run=_report)

    kb = commands.add_parser("kb", help="the meta-learning knowledge base")
    build = kb.add_subparsers(dest="kb_command", required=True).add_parser(
        "build",
        help="build it from reference datasets (resumable: run again to go on)",
        description=build_knowledge_base.__doc__.split("\n")[0],
    )
    build.add_argument("--datasets", required=True, help="folder of <name>.tsv.gz files")
    build.add_argument(
        "--out", default="metadata", help="knowledge base folder (default: %(default)s)"
    )
    build.add_argument("--n-jobs", type=int, default=1, help="evaluations at once (default: 1)")
    build.add_argument(
        "--budget-scale",
        type=float,
        default=1.0,
        help="multiplies each search's budget (default: 1)",
    )
    build.add_argument(
        "--min-rows",
        type=int,
        default=MIN_ROWS,
        help="smallest dataset used (default: %(default)s)",
    )
    build.add_argument("--only", help="comma-separated dataset names to use")
    build.set_defaults(run=_build_knowledge)
    return parser


def _add_estimator_options(parser: argparse.ArgumentParser) -> None:
    helps = _parameter_help(AutoClassifier.__doc__ or "")
    for name, parameter in inspect.signature(AutoClassifier.__init__).parameters.items():
        if name == "self" or name in _NOT_OPTIONS:
            continue
        flag = _ALIASES.get(name, "--" + name.replace("_", "-"))
        parser.add_argument(
            flag,
            dest=name,
            type=_converter(parameter),
            default=parameter.default,
            help=f"{helps.get(name, '')} (default: {parameter.default})",
        )


def _parameter_help(docstring: str) -> dict[str, str]:
    """The first sentence of each parameter's description in a numpydoc docstring."""
    section = docstring.split("Parameters\n")[-1].split("Attributes\n")[0]
    helps = {}
    for match in re.finditer(r"^\s{4}(\w+) : .*\n((?:\s{8}.*\n)+)", section, re.MULTILINE):
        text = " ".join(match.group(2).split())
        helps[match.group(1)] = text.split(". ")[0].rstrip(".").replace("%", "%%")
    return helps


def _converter(parameter: inspect.Parameter):
    annotation = str(parameter.annotation)
    if annotation.startswith("bool"):
        return _boolean
    base = float if "float" in annotation else str if "str" in annotation else int

    def convert(text: str):
        if text.lower() == "none":
            return None
        if text == str(parameter.default):  # e.g. "auto" for memory_limit
            return parameter.default
        return base(text)

    convert.__name__ = base.__name__  # argparse names the type in its error messages
    return convert


def _boolean(text: str) -> bool:
    if text.lower() in {"true", "yes", "1"}:
        return True
    if text.lower() in {"false", "no", "0"}:
        return False
    raise ValueError(f"expected true or false, not {text!r}")


_boolean.__name__ = "boolean"


def read_table(path: str) -> pd.DataFrame:
    """A CSV or TSV file (optionally gzipped) as a DataFrame, its delimiter detected."""
    if not Path(path).exists():
        raise FileNotFoundError(f"{path} does not exist.")
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", newline="") as file:
        head = file.read(_SNIFF_BYTES)
    try:
        delimiter = csv.Sniffer().sniff(head, delimiters=",\t;|").delimiter
    except csv.Error:
        delimiter = "\t" if ".tsv" in path else ","
    return pd.read_csv(path, sep=delimiter)


def _split_target(frame: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.Series]:
    if target not in frame.columns:
        close = difflib.get_close_matches(target, [str(c) for c in frame.columns], n=3)
        hint = f" Did you mean {close}?" if close else ""
        raise ValueError(
            f"The target column {target!r} does not exist.{hint} "
            f"The columns are: {list(frame.columns)[:30]}"
        )
    return frame.drop(columns=[target]), frame[target]


def _fit(args: argparse.Namespace) -> int:
    X, y = _split_target(read_table(args.data), args.target)
    names = inspect.signature(AutoClassifier.__init__).parameters
    params = {name: getattr(args, name) for name in names if hasattr(args, name)}
    model = AutoClassifier(**params, verbose=0 if args.quiet else 1).fit(X, y)
    model.export(args.out)
    board = model.leaderboard().head(_LEADERBOARD_ROWS)
    columns = ["rank", "pipeline", "weight", model.metric_, f"{model.metric_}_std", "fit_time",
               "status"]  # fmt: skip
    print(board[columns].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(
        f"\nBest: {model.best_pipeline_spec_.describe()}, {model.metric_} {model.best_score_:.4f} "
        f"({model.cv_}, {len(model.history_)} evaluations in {model.fit_time_:.1f} s)"
    )
    if len(model.ensemble_) > 1:
        print(f"Model: an ensemble of {len(model.ensemble_)} pipelines, weighted " +
              ", ".join(f"{weight:.2f}" for _, weight in model.ensemble_))  # fmt: skip
    print(f"Model written to {args.out} (manifest: {args.out}.json)")
    return 0


def _predict(args: argparse.Namespace) -> int:
    model, manifest = load_model(args.model, trust=args.trust)
    features = manifest.get("features", {"numeric": [], "categorical": []})
    names = features["numeric"] + features["categorical"]
    X = read_table(args.data)
    by_name = names and all(isinstance(n, str) for n in names)
    X = check_prediction_data(X, names if by_name else None)
    result = pd.DataFrame({"prediction": model.predict(X)})
    if args.proba:
        proba = model.predict_proba(X)
        for position, label in enumerate(model.classes_):
            result[f"proba_{label}"] = proba[:, position]
    if args.out:
        result.to_csv(args.out, index=False)
        print(f"{len(result)} predictions written to {args.out}", file=sys.stderr)
    else:
        buffer = io.StringIO()
        result.to_csv(buffer, index=False)
        sys.stdout.write(buffer.getvalue())
    return 0


def _info(args: argparse.Namespace) -> int:
    manifest = read_manifest(args.model)
    numeric, categorical = (len(manifest["features"][kind]) for kind in ("numeric", "categorical"))
    members = manifest.get("ensemble") or [{"weight": 1.0, "description": manifest["description"]}]
    lines = [
        *(f"pipeline:    {m['description']} (weight {m['weight']:.2f})" for m in members),
        f"best score:  {manifest['metric']} {manifest['cv_score']:.4f} ({manifest['validation']})",
        f"classes:     {manifest['classes']}",
        f"features:    {numeric} numeric, {categorical} categorical",
        f"created:     {manifest['created']} with "
        + ", ".join(f"{k} {v}" for k, v in manifest["versions"].items()),
        f"sha256:      {manifest['sha256']}",
    ]
    drift = version_drift(manifest)
    lines.append(
        f"version drift: {drift}" if drift else "versions:    match the installed libraries"
    )
    print("\n".join(lines))
    return 0


def _export(args: argparse.Namespace) -> int:
    model, manifest = load_model(args.model)
    manifest.setdefault("ensemble", [{"weight": 1.0, "description": manifest["description"]}])
    source = model_source(model, manifest, filename=Path(args.python).name)
    Path(args.python).write_text(source)
    print(f"Python source written to {args.python}", file=sys.stderr)
    return 0


def _report(args: argparse.Namespace) -> int:
    manifest = read_manifest(args.model)
    if "history" not in manifest:
        raise ValueError(
            f"{args.model} was exported by an automl without search history in its "
            "manifest; refit it with this version to get a report."
        )
    write_report(manifest, args.out)
    print(f"Report written to {args.out}", file=sys.stderr)
    return 0


def _build_knowledge(args: argparse.Namespace) -> int:
    only = args.only.split(",") if args.only else None
    build_knowledge_base(
        args.datasets,
        args.out,
        n_jobs=args.n_jobs,
        budget_scale=args.budget_scale,
        min_rows=args.min_rows,
        only=only,
        log=lambda line: print(line, file=sys.stderr, flush=True),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
