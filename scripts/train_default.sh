#!/usr/bin/env bash
# Reproduce the shipped default motion model (models/default/).
#
# Data recipe: one hour of synthetic speech from the data engine (espeak-ng + festival voices, the
# teacher's motion, audio augmentation), seed 0; about 10% of the espeak voices are held out ("val").
# Training: the "fast" config (4 layers, width 128, 4 heads, windows of 90 frames + 8 previous frames),
# batch 24, AdamW lr 8e-4 with warm-up and a cosine decay over a 48-minute time budget, EMA 0.998,
# one CPU thread (on a busy 2-core machine a second thread made each step slower, not faster).
# The time budget makes the number of steps depend on the machine: the shipped model's own
# count is in models/default/config.json ("metadata" -> "metrics" -> "step").
#
#   scripts/train_default.sh            # corpus in $CORPUS, run folder in $RUN, then copied to models/default
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=${CORPUS:-/work/corpus/h3_synth_1h}
RUN=${RUN:-/work/corpus/run_default}
MINUTES=${MINUTES:-48}
export OMP_NUM_THREADS=1

if [ ! -f "$CORPUS/index.json" ]; then
  anim3d data synth --hours 1 --seed 0 --workers 2 --out "$CORPUS"
fi
anim3d train --data "$CORPUS" --config fast --out "$RUN" \
  --epochs 40 --steps-per-epoch 250 --batch-size 24 --lr 8e-4 --ema 0.998 \
  --max-minutes "$MINUTES" --val-utterances 24 --seed 0 --threads 1
mkdir -p models/default
cp "$RUN/config.json" "$RUN/model.safetensors" models/default/
# window overlap at inference: 12 frames (runs started before this default was raised stored 6)
python -c "import json; p='models/default/config.json'; d=json.load(open(p)); d['model']['overlap']=12; json.dump(d, open(p, 'w'), indent=1)"
echo "models/default updated from $RUN"
