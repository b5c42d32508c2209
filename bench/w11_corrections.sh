#!/usr/bin/env bash
# The effect of the likelihood corrections (docs/applications/anomaly.md; bench/run W11c): the W11 one-class protocol
# with a likelihood model (the default MLP VAE: Bernoulli decoder, ELBO; 10 epochs on the class's training images),
# mean ROC-AUC over the classes with --correction none | typicality (entropy estimate from the class's training
# images) | complexity (PNG length).
# Usage: bench/w11_corrections.sh TMPDIR [CLASSES] [MODEL_OPTIONS...]
set -euo pipefail
cd "$(dirname "$0")/.."
TMP=$1
CLASSES=${2:-0,1,2,3,4,5,6,7,8,9}
shift $(( $# < 2 ? $# : 2 ))
T=${THREADS:-2}
T=${T##* }
GF=./build/genforge
D="$TMP/w11c"
mkdir -p "$D"
: > "$D/results.jsonl"
for c in ${CLASSES//,/ }; do
  $GF train vae --data fashion-mnist:train --classes "$c" --set epochs=10 "$@" --out "$D/m.gf" --threads "$T" -q > /dev/null
  line="{\"class\": $c"
  for corr in none typicality complexity; do
    auc=$($GF anomaly "$D/m.gf" --data fashion-mnist:test --normal-classes "$c" --calibrate fashion-mnist:train \
      --calibrate-classes "$c" --correction "$corr" --json --threads "$T" |
      /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['evaluation']['roc_auc'])")
    line="$line, \"$corr\": $auc"
  done
  echo "$line}" >> "$D/results.jsonl"
  echo "W11c $(tail -1 "$D/results.jsonl")" >&2
done
/usr/bin/python3 - "$D" <<'PY'
import json, os, statistics, sys
rows = [json.loads(l) for l in open(os.path.join(sys.argv[1], "results.jsonl"))]
out = {"workload": "W11c", "model": "vae (MLP, Bernoulli decoder, ELBO, 10 epochs)", "rows": rows,
       "mean_auc": {k: round(statistics.mean(r[k] for r in rows), 4) for k in ("none", "typicality", "complexity")}}
print(json.dumps(out))
PY
