#!/usr/bin/env bash
# One call on a GPU machine (one H200, 16 cores): generate the new generator's data there, train the
# seed's network (256 px, 256 features) twice at once with training.train_torch -- once with one style
# family held out, once on all families -- each for SECONDS of wall clock, then score both per family and
# on the five MPII fixture persons (training.generalisation) and leave under $OUT at most 8 files:
#   log.txt                  everything printed, with timings and versions
#   holdout.json, all.json   per-family figures (held-out run with its gap), as training.generalisation writes
#   holdout_curve.json, all_curve.json   the training curves
#   model.pt.part-aa ...     the all-families run's model.pt (34 MB), split into 15 MiB pieces (3 files),
#                            rejoined with `cat model.pt.part-* > model.pt` (sha256 in log.txt)
#
# Usage, from the repository root on the GPU machine (nothing of it is MPII data):
#   OUT=out training/gpu_generalisation_run.sh [HOLD_OUT=textured] [SECONDS=270]
# With the defaults it should take about 7 minutes (an estimate from the parts, not measured): allow 10.
set -euo pipefail
HOLD_OUT=${1:-textured}
TRAIN_SECONDS=${2:-270}
OUT=${OUT:?set OUT to the folder for the results}
WORK=${WORK:-/tmp/generalisation}
PY=${PYTHON:-python3}
TRAIN_PERSONS=${TRAIN_PERSONS:-16000}
VAL_PERSONS=${VAL_PERSONS:-300}
FEATURES=${FEATURES:-256}      # smaller only for a dry run on a CPU
INPUT_SIZE=${INPUT_SIZE:-256}
LOADER_WORKERS=${LOADER_WORKERS:-7}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$WORK"
exec > >(tee "$OUT/log.txt") 2>&1

step() { echo "## $(date -u +%H:%M:%S) $*"; }
step "versions"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c "import sys, torch, numpy, cv2; print(sys.version.split()[0], torch.__version__, numpy.__version__, cv2.__version__)"
# Fail in seconds, not minutes, if scikit-image's photographs are not there.
"$PY" -c "from training.synth.photos import load_photos; print(len(load_photos()), 'background photographs')"

step "training data: all families, $TRAIN_PERSONS persons"
"$PY" -m training.synth --out "$WORK/train" --train "$TRAIN_PERSONS" --val "$VAL_PERSONS" --seed 2027 --workers 16
step "validation splits: $VAL_PERSONS persons per family"
"$PY" -c "from pathlib import Path; from training.generalisation import validation_sets; \
validation_sets(Path('$WORK/val'), $VAL_PERSONS, 7, 16)"

common=(--data "$WORK/train" --features "$FEATURES" --input-size "$INPUT_SIZE" --batch-size 32 --lr 1e-3 --bf16
    --seconds "$TRAIN_SECONDS" --lr-drop-at 0.8 --samples 5000000 --eval-every 32000 --val-persons 300
    --workers "$LOADER_WORKERS")
step "training for $TRAIN_SECONDS s each, at once: without $HOLD_OUT, and on all families"
"$PY" -m training.train_torch "${common[@]}" --out "$WORK/holdout" --exclude-family "$HOLD_OUT" --seed 11 \
    > "$WORK/holdout.log" 2>&1 &
holdout_pid=$!
"$PY" -m training.train_torch "${common[@]}" --out "$WORK/all" --seed 12 > "$WORK/all.log" 2>&1 &
all_pid=$!
status=0
wait "$holdout_pid" || status=$?
wait "$all_pid" || status=$?
cat "$WORK/holdout.log" "$WORK/all.log"
[ "$status" -eq 0 ] || { echo "a training run failed ($status)"; exit "$status"; }
cp "$WORK/holdout/curve.json" "$OUT/holdout_curve.json"
cp "$WORK/all/curve.json" "$OUT/all_curve.json"

score=(--data "$WORK/val" --persons "$VAL_PERSONS" --seed 7 --generator-workers 16 --features "$FEATURES"
    --input-size "$INPUT_SIZE")
step "scores of the run without $HOLD_OUT"
"$PY" -m training.generalisation score "${score[@]}" --torch-model "$WORK/holdout/model.pt" \
    --held-out "$HOLD_OUT" --json "$OUT/holdout.json"
step "scores of the run on all families"
"$PY" -m training.generalisation score "${score[@]}" --torch-model "$WORK/all/model.pt" --json "$OUT/all.json"

step "the all-families model.pt, in pieces"
sha256sum "$WORK/all/model.pt"
split -b 15M "$WORK/all/model.pt" "$OUT/model.pt.part-"
ls -l "$OUT"
step "done"
