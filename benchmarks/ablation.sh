#!/usr/bin/env bash
# The search ablation of issue 3: every search strategy and FLAML at 30 s and 120 s on
# the datasets of datasets_ablation.txt, n_jobs=1, in two streams (one per core).
# Resumable: run it again and it skips what is in the results files. RESULTS sets the
# folder of the results (to benchmark a frozen checkout while this one changes, run its
# copy of this script with PYTHONPATH=<checkout> and RESULTS=<this checkout>/benchmarks/results,
# and DATA_DIR where the datasets are). SEED (0 by default) picks another 75/25 split and
# search seed: the test score of one split is noisy on small data, and report.py averages
# the seeds run. SYSTEMS (a comma-separated list) runs only those systems: to measure
# a change to one strategy against the others' rows of the same seeds.
#   FLAML needs its own environment (its automl extra pins xgboost below 3), with DEAP
#   for this checkout's data loader:
#   python3 -m venv ../.venv-flaml && ../.venv-flaml/bin/pip install "flaml[automl]" pandas deap
set -euo pipefail
cd "$(dirname "$0")/.."
flaml_python=${FLAML_PYTHON:-../.venv-flaml/bin/python}
systems=${SYSTEMS:-automl-hybrid,automl-evolution,automl-bayes,automl-random}
[ -z "${SYSTEMS:-}" ] && [ -x "$flaml_python" ] && systems=$systems,flaml
results=${RESULTS:-benchmarks/results}
data_dir=${DATA_DIR:-../shared/datasets/classification}
seed=${SEED:-0}
mkdir -p "$results"
for budget in 30 120; do
  python benchmarks/run.py --datasets benchmarks/datasets_ablation.txt --budget "$budget" --seed "$seed" \
    --systems "$systems" --flaml-python "$flaml_python" --data-dir "$data_dir" \
    --out "$results/ablation_${budget}s.jsonl" > "$results/ablation_${budget}s.log" 2>&1 &
done
wait
python benchmarks/report.py "$results/ablation_30s.jsonl" "$results/ablation_120s.jsonl" \
  --plot "$results/ablation_anytime.png"
