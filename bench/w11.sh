#!/usr/bin/env bash
# W11 (bench/run W11): Fashion-MNIST one-class anomaly detection. For each class c: train on the class-c training
# images, score all 10,000 test images, normal = class c; ROC-AUC per class and the mean over the 10 classes.
#   peers (bench/w11_peer.py): scikit-learn IsolationForest, LocalOutlierFactor, OneClassSVM, GaussianMixture (K by
#          BIC from 1,2,4,8) on PCA-32 features fitted on the class's training images (written to $TMP/w11)
#   genforge, all through the CLI: gmm on the same PCA-32 files (K by BIC from 1,2,4,8: `train --select bic`);
#          a conv autoencoder (MSE, 32-d code, 20 epochs) and an MLP VAE (Gaussian decoder, 32-d latent, 20 epochs)
#          on the images (`train --classes c`), scored by `genforge anomaly --normal-classes c`
# Usage: bench/w11.sh TMPDIR [CLASSES]   (CLASSES default 0,...,9; THREADS default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
TMP=$1
CLASSES=${2:-0,1,2,3,4,5,6,7,8,9}
T=${THREADS:-2}
T=${T##* }
GF=./build/genforge
mkdir -p "$TMP/w11"
OMP_NUM_THREADS=$T /usr/bin/python3 bench/w11_peer.py "$TMP/w11" "$CLASSES" 2> "$TMP/w11/peer.log" | tail -1 > "$TMP/w11/peer.json"
: > "$TMP/w11/genforge.jsonl"
for c in ${CLASSES//,/ }; do
  t0=$(date +%s.%N)
  $GF train gmm --data "$TMP/w11/c${c}_train.npy" --select bic --set n_components="1|2|4|8" --set seed=0 \
    --out "$TMP/w11/gmm.gf" --threads "$T" -q > /dev/null
  $GF anomaly "$TMP/w11/gmm.gf" --data "$TMP/w11/c${c}_test.npy" --out "$TMP/w11/gmm.csv" --threads "$T" -q > /dev/null
  gmm=$(/usr/bin/python3 bench/w11_peer.py --auc "$TMP/w11" "$TMP/w11/gmm.csv" "$c" | tail -1)
  t1=$(date +%s.%N)
  $GF train autoencoder --data fashion-mnist:train --classes "$c" --set architecture=conv --set loss=mse \
    --set latent=32 --set epochs=20 --out "$TMP/w11/ae.gf" --threads "$T" -q > /dev/null
  ae=$($GF anomaly "$TMP/w11/ae.gf" --data fashion-mnist:test --normal-classes "$c" --json --threads "$T")
  t2=$(date +%s.%N)
  $GF train vae --data fashion-mnist:train --classes "$c" --set decoder=gaussian \
    --set latent=32 --set epochs=20 --out "$TMP/w11/vae.gf" --threads "$T" -q > /dev/null
  vae=$($GF anomaly "$TMP/w11/vae.gf" --data fashion-mnist:test --normal-classes "$c" --json --threads "$T")
  t3=$(date +%s.%N)
  /usr/bin/python3 - "$c" "$gmm" "$ae" "$vae" "$t0" "$t1" "$t2" "$t3" >> "$TMP/w11/genforge.jsonl" <<'PY'
import json, sys
c, gmm, ae, vae = int(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4])
t = [float(x) for x in sys.argv[5:9]]
print(json.dumps({"class": c, "auc": {"gmm_bic": gmm["auc"], "autoencoder": ae["evaluation"]["roc_auc"],
                                      "vae": vae["evaluation"]["roc_auc"]},
                  "seconds": {"gmm_bic": t[1] - t[0], "autoencoder": t[2] - t[1], "vae": t[3] - t[2]}}))
PY
  echo "W11 class $c: $(tail -1 "$TMP/w11/genforge.jsonl")" >&2
done
/usr/bin/python3 - "$TMP/w11" <<'PY'
import json, os, statistics, sys
d = sys.argv[1]
peer = json.load(open(os.path.join(d, "peer.json")))
rows = [json.loads(l) for l in open(os.path.join(d, "genforge.jsonl"))]
methods = list(rows[0]["auc"])
g_auc = {m: [round(r["auc"][m], 4) for r in rows] for m in methods}
g_mean = {m: round(statistics.mean(v), 4) for m, v in g_auc.items()}
g_sec = {m: round(sum(r["seconds"][m] for r in rows), 1) for m in methods}
best_g = max(g_mean, key=g_mean.get)
out = {"workload": "W11", "classes": [r["class"] for r in rows],
       "genforge": {"auc": g_auc, "mean_auc": g_mean, "seconds": g_sec, "best": best_g, "best_mean_auc": g_mean[best_g]},
       "peer": {"auc": peer["auc"], "mean_auc": peer["mean_auc"], "seconds": peer.get("seconds"),
                "best": peer["best_peer"], "best_mean_auc": peer["best_peer_mean_auc"]}}
out["quality_ok"] = g_mean[best_g] >= 0.90 and g_mean[best_g] > peer["best_peer_mean_auc"]
print(json.dumps(out))
PY
