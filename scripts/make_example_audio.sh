#!/usr/bin/env bash
# Makes examples/hello.wav, the quick start's input, with Debian's festival (US English SLT HTS voice).
# The audio is synthetic speech made by this script, so the repo ships no recording of anyone.
set -euo pipefail
cd "$(dirname "$0")/.."
text="Hello! This is anim3d. Give it any speech, and it brings a face to life, with lips, eyes and head in motion."
echo "$text" | text2wave -eval "(voice_cmu_us_slt_arctic_hts)" -o /tmp/anim3d_hello_raw.wav
sox /tmp/anim3d_hello_raw.wav -r 16000 -c 1 -b 16 examples/hello.wav
echo "wrote examples/hello.wav ($(soxi -D examples/hello.wav) s)"
