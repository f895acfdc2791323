#!/usr/bin/env bash
# Standalone training: run_train.sh DATA_DIR OUT_DIR [training.train flags...]
# e.g. training/run_train.sh data/synth runs/demo --input-size 128 --features 128 --device-target CPU
set -euo pipefail
if [[ $# -lt 2 ]]; then
    echo "usage: $0 DATA_DIR OUT_DIR [training.train flags...]" >&2
    exit 2
fi
data=$1
out=$2
shift 2
cd "$(dirname "$0")/.."
mkdir -p "$out"
python -m training.train --data "$data" --out "$out" "$@" 2>&1 | tee "$out/stdout.log"
