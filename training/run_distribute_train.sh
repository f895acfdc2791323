#!/usr/bin/env bash
# Data-parallel training with MindSpore's msrun on one host:
#   run_distribute_train.sh WORKERS DATA_DIR OUT_DIR [training.train flags...]
# Each rank trains on its shard; gradients are averaged, so all ranks hold the same weights.
# Rank r writes OUT_DIR/rank_r/ (train.log, checkpoints, final.ckpt); msrun's worker logs go to OUT_DIR/msrun.
# MASTER_PORT (default 8118) picks the port of msrun's scheduler. Works with --device-target CPU too.
set -euo pipefail
if [[ $# -lt 3 ]]; then
    echo "usage: $0 WORKERS DATA_DIR OUT_DIR [training.train flags...]" >&2
    exit 2
fi
workers=$1
data=$2
out=$3
shift 3
cd "$(dirname "$0")/.."
mkdir -p "$out/msrun"
msrun --worker_num="$workers" --local_worker_num="$workers" --master_port="${MASTER_PORT:-8118}" \
    --log_dir="$out/msrun" --join=True \
    python -m training.train --distribute --data "$data" --out "$out" "$@"
