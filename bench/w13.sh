#!/usr/bin/env bash
# W13 (bench/run W13), image part: class-conditional augmentation of a small labelled Fashion-MNIST set.
#   1. class fidelity at the documented budgets (VAE 20 epochs, GAN 5): a conditional model trained on all 60,000
#      training images
#      (`genforge augment --data fashion-mnist`), 100 samples per class, the share that genforge's Fashion-MNIST
#      classifier assigns to the requested class.
#   2. the downstream check: the first 1000 training images (about 100 per class) as the labelled set; genforge's
#      classifier CNN trained 1500 steps on them alone and on them + 500 synthetic images per class from a conditional
#      model trained on the same 1000 images; test accuracy on the 10,000 test images (`augment --check`).
#   3. the same check with interpolation in the latent space of a VAE trained on all 60,000 images without labels.
#   4. the same check with a semi-supervised VAE (M2) trained on the 1000 labelled and the 60,000 unlabelled images.
# The table part (a minority class cut to 5 %, balanced accuracy vs SMOTE) is bench/run W13t (bench/w13_tables.py).
# Usage: bench/w13.sh TMPDIR
set -euo pipefail
cd "$(dirname "$0")/.."
TMP=$1
T=${THREADS:-2}
T=${T##* }
GF=./build/genforge
D="$TMP/w13"
mkdir -p "$D"
run() {  # NAME ARGS...: one augment run, its JSON summary as a line of $D/results.jsonl
  local name=$1
  shift
  local t0 t1
  t0=$(date +%s.%N)
  $GF augment "$@" --threads "$T" -q --json | tail -1 > "$D/$name.json"
  t1=$(date +%s.%N)
  /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); d['run']=sys.argv[2]; d['seconds']=round(float(sys.argv[4])-float(sys.argv[3]),1); print(json.dumps(d))" \
    "$D/$name.json" "$name" "$t0" "$t1" >> "$D/results.jsonl"
  echo "W13 $name: $(tail -1 "$D/results.jsonl" | cut -c1-300)" >&2
}
: > "$D/results.jsonl"
# The conditional VAE: MLP, 8-d latent, codes from each class's fitted code Gaussian (code_prior=class, the
# default) at temperature 0.3 (docs/applications/augment.md: fidelity against temperature); the conditional DCGAN
# with noise truncated at +-1 (the truncation trick: fidelity 0.954 against 0.892 untruncated, the same model).
VAE=(--model vae --set latent=8 --set temperature=0.3)
GAN=(--model gan --set truncation=1.0)
run fidelity_vae --data fashion-mnist "${VAE[@]}" --set epochs=20 --per-class 100 --out "$D/fid_vae"
run fidelity_gan --data fashion-mnist "${GAN[@]}" --set epochs=5 --per-class 100 --out "$D/fid_gan"
run check_vae --data fashion-mnist --limit 1000 "${VAE[@]}" --set epochs=200 --per-class 500 --out "$D/check_vae" \
  --check --check-steps 1500
run check_gan --data fashion-mnist --limit 1000 "${GAN[@]}" --set epochs=200 --per-class 500 --out "$D/check_gan" \
  --check --check-steps 1500
# Interpolation instead of sampling: an unconditional MLP VAE trained on all 60,000 training images without their
# labels, then SMOTE in its latent space between each labelled image and its same-class neighbours, the decoded change
# added to the real image (--keep-detail). The 59,000 unlabelled images reach the classifier only through the model.
$GF train vae --data fashion-mnist --set latent=20 --set epochs=10 --out "$D/vae_unlabelled.gf" --threads "$T" -q
run check_interpolate --data fashion-mnist --limit 1000 --from "$D/vae_unlabelled.gf" --method interpolate \
  --keep-detail --per-class 500 --out "$D/check_interpolate" --check --check-steps 1500
# Semi-supervised (M2): the conditional VAE trained on the 1000 labelled images and all 60,000 without labels together,
# then sampled by class.
run check_semi --data fashion-mnist --limit 1000 --unlabelled fashion-mnist "${VAE[@]}" --set epochs=1 --per-class 500 \
  --out "$D/check_semi" --check --check-steps 1500
/usr/bin/python3 - "$D" <<'PY'
import json, os, sys
rows = {json.loads(l)["run"]: json.loads(l) for l in open(os.path.join(sys.argv[1], "results.jsonl"))}
out = {"workload": "W13", "part": "images",
       "class_fidelity": {k.split("_")[1]: rows[k].get("class_fidelity") for k in rows if k.startswith("fidelity")},
       "check": {k.split("_")[1]: rows[k]["check"] | {"class_fidelity": rows[k].get("class_fidelity")}
                 for k in rows if k.startswith("check")},
       "seconds": {k: v["seconds"] for k, v in rows.items()}}
out["fidelity_ok"] = all((v or 0) >= 0.90 for v in out["class_fidelity"].values())
out["gain_ok"] = max(c["gain_points"] for c in out["check"].values()) >= 2.0
print(json.dumps(out))
PY
