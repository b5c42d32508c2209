#!/usr/bin/env bash
# W15 (../shared/WORKLOADS.md): data-parallel scaling. W1 (GMM, full covariances, K=10, Fashion-MNIST PCA-32,
# distributed EM) and W5 (MLP VAE 784-400-20, 3 epochs, global batch 128, data-parallel training) as
#   1 process x 1 thread, 1 process x 2 threads, 2 processes x 1 thread (genforge launch, Gloo over loopback), and
#   2 processes x 1 thread in two network namespaces joined by a veth pair (two "hosts"; needs root and iproute2).
# Prints one JSON line per workload: fit seconds (the fit itself, from the report), the result (W1: mean
# log-likelihood of the training rows and test score; W5: test loss), the speed-ups and the efficiency of 2
# processes (speed-up over 1 x 1 divided by 2). Usage: bench/w15.sh GENFORGE TMP DATA
set -euo pipefail
GF=$(realpath "$1")
TMP=$2
DATA=$(realpath "$3")
mkdir -p "$TMP"

w1=(train gmm --data "$DATA/fmnist_pca32_train.npy" --set n_components=10 --set covariance_type=full --set seed=0
    --profile-items 0 --json -q)
w5=(train vae --data fashion-mnist --validation fashion-mnist:test --set epochs=3 --set seed=0 --profile-items 0
    --json -q)

# run NAME WORKLOAD-ARGS... : one configuration; NAME says how (1x1, 1x2, 2x1, netns).
run() {
  local name=$1 kind=$2
  shift 2
  local out="$TMP/$kind.$name"
  case "$name" in
    1x1) GENFORGE_THREADS=1 OMP_NUM_THREADS=1 "$GF" "$@" --out "$out.gf" > "$out.json" ;;
    1x2) GENFORGE_THREADS=2 OMP_NUM_THREADS=2 "$GF" "$@" --out "$out.gf" > "$out.json" ;;
    2x1) GENFORGE_THREADS=1 OMP_NUM_THREADS=1 "$GF" launch --nproc 2 -- "$@" --out "$out.gf" > "$out.json" ;;
    netns)
      # Rank 0 in gf15a (10.215.0.1), rank 1 in gf15b (10.215.0.2): the rendezvous and Gloo cross the veth link.
      local common=(WORLD_SIZE=2 MASTER_ADDR=10.215.0.1 MASTER_PORT=29515 GENFORGE_THREADS=1 OMP_NUM_THREADS=1)
      env "${common[@]}" RANK=0 GLOO_SOCKET_IFNAME=gf15va ip netns exec gf15a "$GF" "$@" --out "$out.gf" \
        > "$out.json" &
      local rank0=$!
      env "${common[@]}" RANK=1 GLOO_SOCKET_IFNAME=gf15vb ip netns exec gf15b "$GF" "$@" --out "$out.rank1.gf" \
        > /dev/null
      wait "$rank0" ;;
  esac
  if [ "$kind" = w1 ]; then
    "$GF" score "$out.gf" --data "$DATA/fmnist_pca32_test.npy" --json -q > "$out.test.json"
  fi
}

netns=0
if [ "$(id -u)" = 0 ] && command -v ip > /dev/null && ip netns add gf15a 2> /dev/null; then
  trap 'ip netns del gf15a 2> /dev/null || true; ip netns del gf15b 2> /dev/null || true' EXIT
  ip netns add gf15b
  ip link add gf15va type veth peer name gf15vb
  ip link set gf15va netns gf15a
  ip link set gf15vb netns gf15b
  ip -n gf15a addr add 10.215.0.1/24 dev gf15va
  ip -n gf15b addr add 10.215.0.2/24 dev gf15vb
  for ns in gf15a gf15b; do ip -n $ns link set lo up; done
  ip -n gf15a link set gf15va up
  ip -n gf15b link set gf15vb up
  netns=1
fi
configs="1x1 1x2 2x1"
[ "$netns" = 1 ] && configs="$configs netns"
for c in $configs; do
  run "$c" w1 "${w1[@]}"
  # W5: 128 examples per step in every configuration (64 per rank with two processes).
  if [ "${c:0:1}" = 1 ]; then run "$c" w5 "${w5[@]}" --set batch_size=128; else run "$c" w5 "${w5[@]}" --set batch_size=64; fi
done

/usr/bin/python3 - "$TMP" "$configs" <<'PY'
import json, sys
tmp, configs = sys.argv[1], sys.argv[2].split()
def load(path):
    with open(path) as f:
        text = f.read()
    return json.JSONDecoder().raw_decode(text[text.index("{"):])[0]
for kind in ("w1", "w5"):
    rows = {}
    for c in configs:
        rep = load(f"{tmp}/{kind}.{c}.json")
        row = {"fit_s": round(rep["seconds"], 3), "n_iter": rep["n_iter"]}
        if kind == "w1":
            row["train_mean_log_likelihood"] = rep["objective"]
            row["test_score"] = load(f"{tmp}/{kind}.{c}.test.json")["mean_log_likelihood"]
        else:
            row["test_loss"] = rep["extra"]["validation_loss"] if "validation_loss" in rep["extra"] \
                else rep["extra"].get("best_validation_loss")
        rows[c] = row
    key = "test_score" if kind == "w1" else "test_loss"
    base = rows["1x1"]
    out = {"workload": "W15/" + ("W1 gmm full K=10" if kind == "w1" else "W5 vae 3 epochs"),
           "timed": "fit() from the fit report (data loading and process start excluded)", "runs": rows,
           "speedup_2proc_vs_1x1": round(base["fit_s"] / rows["2x1"]["fit_s"], 2),
           "efficiency_2proc": round(base["fit_s"] / rows["2x1"]["fit_s"] / 2, 2),
           "ratio_2proc_vs_1x2": round(rows["1x2"]["fit_s"] / rows["2x1"]["fit_s"], 2),
           "result_difference_2proc_vs_1x1": abs(rows["2x1"][key] - base[key])}
    if "netns" in rows:
        out["speedup_netns_vs_1x1"] = round(base["fit_s"] / rows["netns"]["fit_s"], 2)
        out["result_difference_netns_vs_1x1"] = abs(rows["netns"][key] - base[key])
    print(json.dumps(out))
PY
