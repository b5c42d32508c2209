#!/usr/bin/env bash
# Fine-tuning a generative model on few images (issue 21 §3): a conv VAE (3000 steps) and a DCGAN (1500 steps)
# trained on the Fashion-MNIST classes 0-4, fine-tuned on the first 500 training images of classes 5-9 (about 100 per
# class) for $FID_STEPS steps, against the same model trained from scratch on the same 500 images for the same steps
# (same options, `--reinit`: fresh weights), and for the VAE rank-8 LoRA adapters saved alone (`--adapters-only`). FID with genforge's Fashion-MNIST classifier features between 5000
# samples and the 5000 test images of classes 5-9; the base without fine-tuning for reference. Bases kept in
# $FID_BASES (default a temporary folder). One JSON line per model.
set -euo pipefail
cd "$(dirname "$0")/.."
GF=./build/genforge
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
BASES=${FID_BASES:-$TMP}
mkdir -p "$BASES"
[ -f data/fmnist-classifier.gf ] || make -s classifier
/usr/bin/python3 - "$TMP/real.idx" <<'PY'
import gzip, sys
import numpy as np
d = "/usr/share/datasets/fashion-mnist"
with gzip.open(f"{d}/t10k-images-idx3-ubyte.gz", "rb") as f:
    x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
with gzip.open(f"{d}/t10k-labels-idx1-ubyte.gz", "rb") as f:
    y = np.frombuffer(f.read(), np.uint8, offset=8)
keep = x[y >= 5]
with open(sys.argv[1], "wb") as f:
    f.write(bytes([0, 0, 8, 3]) + np.array(keep.shape, ">u4").tobytes() + keep.tobytes())
PY
fid() {
  $GF eval image --real "$TMP/real.idx" --fake "$1" -n 5000 --features fmnist --metrics fid --seed 1 --json -q |
    python3 -c 'import json, sys; print(round(json.load(sys.stdin)["fid"], 3))'
}
for spec in "vae:--architecture conv --max_steps 3000:${FID_STEPS_VAE:-1000}" "gan:--max_steps 1500:${FID_STEPS_GAN:-300}"; do
  IFS=: read -r kind train_args steps <<< "$spec"
  base="$BASES/$kind-0to4.gf"
  # shellcheck disable=SC2086
  [ -f "$base" ] || $GF train "$kind" --data fashion-mnist --classes 0,1,2,3,4 $train_args --out "$base" -q > /dev/null
  few=(--data fashion-mnist --classes 5,6,7,8,9 --limit 500 --max_steps "$steps")
  $GF finetune "$base" "${few[@]}" --out "$TMP/tuned.gf" -q > /dev/null
  $GF finetune "$base" "${few[@]}" --reinit --out "$TMP/scratch.gf" -q > /dev/null
  lora=null
  if [ "$kind" = "vae" ]; then  # LoRA adapters (rank 8) on the four linear layers, the conv layers frozen
    $GF finetune "$base" "${few[@]}" --lora rank=8,alpha=16 --adapters-only --out "$TMP/lora.gf" -q > /dev/null
    lora="{\"fid\": $(fid "$TMP/lora.gf"), \"adapter_file_bytes\": $(wc -c < "$TMP/lora.gf"), \"base_file_bytes\": $(wc -c < "$base")}"
  fi
  python3 - "$kind" "$steps" "$(fid "$base")" "$(fid "$TMP/tuned.gf")" "$(fid "$TMP/scratch.gf")" "$lora" <<'PY'
import json, sys
kind, steps, base, tuned, scratch = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:6])
print(json.dumps({"check": "finetune-fid", "model": kind, "images": 500, "steps": steps, "fid_base_0to4": base,
                  "fid_finetuned": tuned, "fid_from_scratch": scratch, "lora_r8": json.loads(sys.argv[6]),
                  "goal_met": tuned < scratch}))
PY
done
