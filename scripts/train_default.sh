#!/usr/bin/env bash
# Reproduce the shipped default motion model (models/default/).
#
# Data recipe: one hour of synthetic speech from the data engine (espeak-ng + festival voices, the
# teacher's motion, audio augmentation), seed 0; about 10% of the espeak voices are held out ("val").
# The shipped model: first run 02:50-03:10 UTC (750 steps, --max-minutes 48, stopped), then
# --resume --max-minutes 47 (to step 5115); the corpus folder had grown to 702 training utterances
# (56 min) when the resumed run started (the data engine added shards to it).
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
# inference settings chosen on held-out voices + the evaldata speakers (see docs/model.md):
# DPM-Solver++(2M) 4 steps, audio guidance 1.5, window overlap 12 frames
python -c "import json; p='models/default/config.json'; d=json.load(open(p)); d['model'].update(overlap=12, default_sampler='dpmpp_2m', default_guidance={'audio': 1.5}); json.dump(d, open(p, 'w'), indent=1)"
echo "models/default updated from $RUN"
