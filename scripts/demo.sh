#!/usr/bin/env bash
# The main job on built-in data: fit a Gaussian mixture to the Palmer penguins (vega-datasets, 4 numeric columns,
# 2 rows with missing cells that EM marginalises), save it, sample from it, score the data, and draw data vs
# samples. Everything lands in runs/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
GF=./build/genforge
DATA=data/vega-datasets/data/penguins.json
OUT=runs/demo
COLS="Beak Length (mm),Beak Depth (mm),Flipper Length (mm),Body Mass (g)"
mkdir -p "$OUT"
$GF train gmm --data "$DATA" --columns "$COLS" --config configs/gmm_penguins.json --out "$OUT/penguins.gf"
$GF info "$OUT/penguins.gf" > "$OUT/model_info.json"
$GF sample "$OUT/penguins.gf" -n 344 --seed 1 --out "$OUT/samples.csv"
$GF score "$OUT/penguins.gf" --data "$DATA" --out "$OUT/scores.csv"
$GF plot "$DATA:penguins (data)" "$OUT/samples.csv:GMM samples" --x "Flipper Length (mm)" --y "Body Mass (g)" \
  --title "Palmer penguins: data vs GMM samples" --out "$OUT/data_vs_samples.png"
$GF plot "$DATA:penguins (data)" "$OUT/samples.csv:GMM samples" --x "Beak Length (mm)" --y "Beak Depth (mm)" \
  --title "Palmer penguins: data vs GMM samples" --out "$OUT/beaks.png"
echo "demo: results in $OUT/ (penguins.gf, model_info.json, samples.csv, scores.csv, data_vs_samples.png, beaks.png)"
