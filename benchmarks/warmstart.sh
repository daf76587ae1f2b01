#!/usr/bin/env bash
# Warm versus cold start (issue 4), leave-one-dataset-out: AutoClassifier with the
# knowledge base less the dataset under test ("automl") and without it ("automl-cold"),
# at 10, 30 and 60 s, n_jobs=1, on the datasets of datasets_warmstart.txt, in two
# streams (one per core, alternate datasets). Resumable: run it again to go on.
# RESULTS and DATA_DIR as in ablation.sh; SEED (0 by default) picks another 75/25 split
# and search seed, so that runs with several seeds average out the test-set noise.
set -euo pipefail
cd "$(dirname "$0")/.."
results=${RESULTS:-benchmarks/results}
data_dir=${DATA_DIR:-../shared/datasets/classification}
seed=${SEED:-0}
mkdir -p "$results"
names=$(grep -v '^#' benchmarks/datasets_warmstart.txt)
for stream in 0 1; do
  subset=$(echo "$names" | awk -v s="$stream" 'NR % 2 == s' | paste -sd, -)
  # Each stream on a core of its own, where taskset exists: timings must not share one.
  pin=$(command -v taskset > /dev/null && [ "$(nproc)" -ge 2 ] && echo "taskset -c $stream" || true)
  (
    for budget in 10 30 60; do
      $pin python benchmarks/run.py --datasets "$subset" --budget "$budget" --systems automl,automl-cold \
        --seed "$seed" --data-dir "$data_dir" --out "$results/warmstart_${budget}s.jsonl"
    done
  ) > "$results/warmstart_stream${stream}_seed${seed}.log" 2>&1 &
done
wait
python benchmarks/report.py "$results"/warmstart_{10,30,60}s.jsonl \
  --plot "$results/warmstart_anytime.png" \
  --versus automl@10 automl-cold@60 --versus automl@10 automl-cold@10 \
  --versus automl@30 automl-cold@30 --versus automl@60 automl-cold@60
