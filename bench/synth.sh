#!/usr/bin/env bash
# Synthetic tables (bench/run synth): every synthesizer on penguins, birdstrikes and flights-200k (vega-datasets),
# 10,000 rows each (penguins: as many as the real table), evaluated on up to 10,000 rows of each side: SDMetrics
# quality, detection, DCR baseline protection, new-row synthesis, ML efficacy (last column; test rows a seeded 30 %
# of the real table, which the synthesizer saw) and the pMSE ratio; fit seconds and peak RSS. Then the quality-ε
# curve of the private fits on penguins (3 seeds each) and its plot. No peer: SDV is not packaged for Debian; the
# metrics are SDMetrics' own (tests/eval_table_test.cpp pins them to its values).
# The neural synthesizers get a stated budget per table (SDV's defaults otherwise): penguins 1000 epochs of batch 100
# (3500 steps; CTGAN 3000 epochs), birdstrikes 100 epochs (2000 steps; TVAE 3000 epochs, about half an hour),
# flights-200k 3 epochs (1200 steps); the log prints seconds per epoch.
# Usage: [MODELS="copula bayesnet tvae ctgan"] bench/synth.sh TMPDIR [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
TMP=$1
OUT=${2:-$TMP}
GF=./build/genforge
D=data/vega-datasets/data
mkdir -p "$TMP/synth" "$OUT"
echo "table,model,rows,fit_s,peak_rss_mb,quality,shapes,pair_trends,detection,dcr_baseline,new_rows,ml_real,ml_synthetic,pmse_ratio" > "$OUT/synth_quality.csv"
for table in penguins.json birdstrikes.csv flights-200k.json; do
  n=10000
  [ "$table" = penguins.json ] && n=344
  for model in ${MODELS:-copula bayesnet tvae ctgan}; do
    budget=""
    if [ "$model" = tvae ] || [ "$model" = ctgan ]; then
      case $table in
        penguins.json) budget="--epochs $([ "$model" = ctgan ] && echo 3000 || echo 1000) --batch_size 100" ;;
        birdstrikes.csv) budget="--epochs $([ "$model" = tvae ] && echo 3000 || echo 100)" ;;
        flights-200k.json) budget="--epochs 3" ;;
      esac
    fi
    /usr/bin/time -f "%M" -o "$TMP/synth/rss" $GF synth --data "$D/$table" --model "$model" -n $n $budget \
      --out "$TMP/synth/s.csv" -q > "$TMP/synth/log"
    /usr/bin/python3 - "$TMP/synth/s.report.json" "$table" "$model" "$(cat "$TMP/synth/rss")" >> "$OUT/synth_quality.csv" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
f = lambda k: f"{r[k]:.4f}" if isinstance(r.get(k), (int, float)) else ""
print(",".join([sys.argv[2], sys.argv[3], str(r["synthetic_rows"]), f"{r['fit_seconds']:.3f}", f"{int(sys.argv[4]) / 1024:.0f}",
                f("quality_score"), f("column_shapes"), f("column_pair_trends"), f("detection_score"),
                f("dcr_baseline_protection"), f("new_row_synthesis"), f("ml_efficacy_real"), f("ml_efficacy_synthetic"),
                f("pmse_ratio")]))
PY
  done
done
column -s, -t "$OUT/synth_quality.csv"
[ -n "${NO_DP:-}" ] && exit 0
# Ranges: estimated privately (the default), or declared as public knowledge of the species (field-guide ranges,
# wider than this table's: no reading of the data).
PUBLIC_RANGES="Beak Length (mm):20..80,Beak Depth (mm):10..30,Flipper Length (mm):150..250,Body Mass (g):2000..8000"
echo "model,ranges,epsilon,seed,quality" > "$OUT/synth_dp.csv"
for model in copula bayesnet; do
  for ranges in private declared; do
    for eps in 0.1 0.3 1 3 10; do
      for seed in 0 1 2; do
        bounds=()
        [ "$ranges" = declared ] && bounds=(--dp-bounds "$PUBLIC_RANGES")
        $GF synth --data "$D/penguins.json" --model "$model" --dp-epsilon "$eps" "${bounds[@]}" --seed "$seed" -n 344 \
          --out "$TMP/synth/dp.csv" -q > /dev/null
        q=$(/usr/bin/python3 -c "import json; print(json.load(open('$TMP/synth/dp.report.json'))['quality_score'])")
        echo "$model,$ranges,$eps,$seed,$q" >> "$OUT/synth_dp.csv"
      done
    done
  done
done
/usr/bin/python3 - "$OUT" <<'PY'
import csv, json, math, statistics, sys
rows = list(csv.DictReader(open(f"{sys.argv[1]}/synth_dp.csv")))
for model in ("copula", "bayesnet"):
    for ranges in ("private", "declared"):
        with open(f"{sys.argv[1]}/synth_dp_{model}_{ranges}.csv", "w") as f:
            f.write("log10_epsilon,quality\n")
            for eps in sorted({float(r["epsilon"]) for r in rows}):
                q = [float(r["quality"]) for r in rows
                     if r["model"] == model and r["ranges"] == ranges and float(r["epsilon"]) == eps]
                f.write(f"{math.log10(eps)},{statistics.median(q)}\n")
                print(json.dumps({"model": model, "ranges": ranges, "epsilon": eps,
                                  "quality_median": statistics.median(q), "quality": q}))
PY
$GF plot "$OUT/synth_dp_copula_private.csv:copula, private ranges" \
  "$OUT/synth_dp_copula_declared.csv:copula, declared ranges" \
  "$OUT/synth_dp_bayesnet_private.csv:bayesnet, private ranges" \
  "$OUT/synth_dp_bayesnet_declared.csv:bayesnet, declared ranges" --x log10_epsilon --y quality --lines \
  --title "penguins: quality vs DP epsilon" -o "$OUT/synth_dp_curve.png" -q
