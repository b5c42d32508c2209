#!/usr/bin/env bash
# `make pretrained`: the base models the fine-tuning examples start from (docs/applications/finetune.md), trained
# once into data/pretrained/ (git-ignored) -- 8 minutes on 2 cores; a model already there is kept.
#   fmnist-vae.gf    MLP VAE on Fashion-MNIST classes 0-4 (T-shirt .. coat), 6000 steps (~25 s)
#   fmnist-dcgan.gf  DCGAN on the same images, 1500 steps (~3 min)
#   brown-gpt.gf     character GPT (4 layers x 128) on the Brown categories a-m, 1500 steps (~5 min; 1.67 nats/char)
set -euo pipefail
cd "$(dirname "$0")/.."
GF=${GF:-./build/genforge}
OUT=data/pretrained
mkdir -p "$OUT"
train() {  # NAME ARGS...
  local name=$1
  shift
  if [ -f "$OUT/$name" ]; then echo "kept $OUT/$name"; return; fi
  echo "training $OUT/$name"
  "$GF" train "$@" --out "$OUT/$name"
}
train fmnist-vae.gf vae --data fashion-mnist --classes 0,1,2,3,4 --max_steps 6000
train fmnist-dcgan.gf gan --data fashion-mnist --classes 0,1,2,3,4 --max_steps 1500
train brown-gpt.gf gpt --data brown:a-m --max_steps 1500
