#!/usr/bin/env bash
# The search ablation of issue 3: every search strategy and FLAML at 30 s and 120 s on
# the datasets of datasets_ablation.txt, n_jobs=1, in two streams (one per core).
# Resumable: run it again and it skips what is in the results files.
#   FLAML needs its own environment (its automl extra pins xgboost below 3):
#   python3 -m venv ../.venv-flaml && ../.venv-flaml/bin/pip install "flaml[automl]" pandas
set -euo pipefail
cd "$(dirname "$0")/.."
flaml_python=${FLAML_PYTHON:-../.venv-flaml/bin/python}
systems=automl-hybrid,automl-evolution,automl-bayes,automl-random
[ -x "$flaml_python" ] && systems=$systems,flaml
mkdir -p benchmarks/results
for budget in 30 120; do
  python benchmarks/run.py --datasets benchmarks/datasets_ablation.txt --budget "$budget" \
    --systems "$systems" --flaml-python "$flaml_python" \
    --out "benchmarks/results/ablation_${budget}s.jsonl" > "benchmarks/results/ablation_${budget}s.log" 2>&1 &
done
wait
python benchmarks/report.py benchmarks/results/ablation_30s.jsonl benchmarks/results/ablation_120s.jsonl \
  --plot benchmarks/results/ablation_anytime.png
