#!/usr/bin/env bash
# A model repository at the seed's resolution for the speed figures of benchmarks/service_latency.py and
# benchmarks/eval_seed_resolution.py: the shipped version 6's weights exported at 256 px (version 1, fp32;
# trained at 128 px, so its accuracy at 256 px says nothing), its NNCF int8 (version 2), and a synthetic
# MPII-layout data set (train for calibration, 2,958 validation persons).
#
#     benchmarks/seed_resolution_repo.sh OUT      (about 4 minutes on 2 cores)
set -euo pipefail
out=${1:?usage: benchmarks/seed_resolution_repo.sh OUT}
mkdir -p "$out"
python -m training.import_onnx model_repo/hourglass/6/model.onnx --out "$out/hourglass6.ckpt"
python -m training.export --ckpt "$out/hourglass6.ckpt" --name hourglass256 --version 1 --repo "$out/repo" \
    --input-size 256 --data "hourglass 6 weights (trained at 128 px) exported at 256 px, for speed figures" --force
python -m training.synth --out "$out/synth" --train 400 --val 2958 --seed 11
python -m training.quantize --repo "$out/repo" --name hourglass256 --version 1 --data "$out/synth" \
    --to-version 2 --validation-persons 100 --force
