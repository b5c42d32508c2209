#!/usr/bin/env bash
# Classification from a generative model's network (issue 21 §3): base models trained without labels on the 60,000
# Fashion-MNIST training images -- an MLP VAE (6000 steps), a conv VAE (3000 steps), a DCGAN (1500 steps) -- each
# cut below its last layer with a new 10-class head (`finetune --new-head classes=10`) and trained on the first
# 1,000 labelled training images for $HEAD_STEPS steps (batch 64, Adam lr 1e-3): all layers at once; the head alone
# (linear probe); the head for half the steps and then all at lr x 0.3 (the founding recipe's two phases); and the
# same network from random init (--reinit). Test accuracy and macro F1 on the 10,000 test images. Peers in the same
# run: genforge's plain MLP classifier and scikit-learn's LogisticRegression on the same 1,000 images' pixels.
# Bases are kept in $HEAD_BASES (default a temporary folder). One JSON line per base, then the peers.
set -euo pipefail
cd "$(dirname "$0")/.."
GF=./build/genforge
STEPS=${HEAD_STEPS:-500}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
BASES=${HEAD_BASES:-$TMP}
mkdir -p "$BASES"
base() {  # NAME ARGS...
  local name=$1
  shift
  [ -f "$BASES/$name.gf" ] || $GF train "$@" --data fashion-mnist --out "$BASES/$name.gf" -q > /dev/null
}
base vae-mlp vae --max_steps 6000
base vae-conv vae --architecture conv --max_steps 3000
base dcgan gan --max_steps 1500
accuracy() {  # prints "accuracy macro_f1 seconds" of one fine-tuning
  local start end
  start=$(date +%s.%N)
  $GF finetune "$@" --data fashion-mnist --limit 1000 --new-head classes=10 --max_steps "$STEPS" --batch_size 64 \
    --lr 1e-3 --test fashion-mnist:test --json --out "$TMP/clf.gf" -q > "$TMP/out.json"
  end=$(date +%s.%N)
  python3 -c 'import json, sys; t = json.load(open(sys.argv[1]))["test"]; c = t["classification"]
print(round(t["accuracy"], 4), round(c["macro_f1"], 4), round(float(sys.argv[3]) - float(sys.argv[2]), 1))' \
    "$TMP/out.json" "$start" "$end"
}
for name in vae-mlp vae-conv dcgan; do
  full=$(accuracy "$BASES/$name.gf")
  probe=$(accuracy "$BASES/$name.gf" --train-only 'head.*')
  two=$(accuracy "$BASES/$name.gf" --train-only 'head.*' --unfreeze-after $((STEPS / 2)) --unfreeze-lr-scale 0.3)
  scratch=$(accuracy "$BASES/$name.gf" --reinit)
  python3 - "$name" "$STEPS" "$full" "$probe" "$two" "$scratch" <<'PY'
import json, sys
name, steps = sys.argv[1], int(sys.argv[2])
rows = {k: v.split() for k, v in zip(["finetuned", "linear_probe", "two_phase", "random_init"], sys.argv[3:])}
out = {"check": "finetune-head", "base": name, "labelled": 1000, "steps": steps}
for k, (acc, f1, secs) in rows.items():
    out[k] = {"accuracy": float(acc), "macro_f1": float(f1), "seconds": float(secs)}
best = max(float(rows[k][0]) for k in ("finetuned", "linear_probe", "two_phase"))
out["best_pretrained_minus_random_init"] = round(best - float(rows["random_init"][0]), 4)
print(json.dumps(out))
PY
done
$GF train classifier --data fashion-mnist --limit 1000 --max_steps "$STEPS" --batch_size 64 --out "$TMP/mlp.gf" -q > /dev/null
mlp=$($GF score "$TMP/mlp.gf" --data fashion-mnist:test --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["accuracy"])')
/usr/bin/python3 - "$mlp" <<'PY'
import gzip, json, sys, time
import numpy as np
from sklearn.linear_model import LogisticRegression
d = "/usr/share/datasets/fashion-mnist"
def images(split, n=None):
    with gzip.open(f"{d}/{split}-images-idx3-ubyte.gz", "rb") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784) / 255.0
    return x[:n] if n else x
def labels(split, n=None):
    with gzip.open(f"{d}/{split}-labels-idx1-ubyte.gz", "rb") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return y[:n] if n else y
t = time.time()
clf = LogisticRegression(max_iter=2000).fit(images("train", 1000), labels("train", 1000))
acc = float((clf.predict(images("t10k")) == labels("t10k")).mean())
print(json.dumps({"check": "finetune-head-peers", "labelled": 1000,
                  "genforge_mlp_classifier_accuracy": round(float(sys.argv[1]), 4),
                  "sklearn_logistic_regression_accuracy": round(acc, 4), "sklearn_seconds": round(time.time() - t, 1)}))
PY
