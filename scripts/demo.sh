#!/usr/bin/env bash
# The main job on built-in data.
# 1. A DCGAN on Fashion-MNIST (1500 steps, about 2.5 minutes on 2 cores): runs/demo/dcgan/ holds the sample grids
#    over training (samples/), the loss curves (loss.png), metrics.jsonl, the model, a grid of 64 samples from the
#    final (EMA) generator and four latent interpolation strips.
# 2. Fit a Gaussian mixture to the Palmer penguins (vega-datasets, 4 numeric columns,
# 2 rows with missing cells that EM marginalises), save it, sample from it, score the data, and draw data vs
# samples. 3. Text: an HMM part-of-speech tagger on the Brown corpus (train on categories a-m, score on n-r) and
# an LDA topic model of the Brown files with its top words and coherence. Everything lands in runs/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
GF=./build/genforge
DATA=data/vega-datasets/data/penguins.json
OUT=runs/demo
COLS="Beak Length (mm),Beak Depth (mm),Flipper Length (mm),Body Mass (g)"
mkdir -p "$OUT"
rm -rf "$OUT/dcgan"
$GF train gan --data fashion-mnist --run-dir "$OUT/dcgan" --set max_steps=1500 --set sample_every=250 \
  --set log_every=25
$GF sample "$OUT/dcgan/model.gf" -n 64 --seed 1 --out "$OUT/dcgan/samples.png"
$GF sample "$OUT/dcgan/model.gf" --interpolate --steps 10 --rows 4 --seed 2 --out "$OUT/dcgan/interpolation.png"
# How good are the garments? FID / KID / IS / precision-recall in genforge's Fashion-MNIST classifier features.
$GF eval image --real fashion-mnist:test --fake "$OUT/dcgan/model.gf" -n 2000 --features fmnist \
  --metrics fid,kid,is,prdc --kid-subset-size 500 --json > "$OUT/dcgan/eval.json"
$GF eval ppl --model "$OUT/dcgan/model.gf" -n 1000 --features fmnist --json > "$OUT/dcgan/ppl.json"
$GF train gmm --data "$DATA" --columns "$COLS" --config configs/gmm_penguins.json --out "$OUT/penguins.gf"
$GF info "$OUT/penguins.gf" > "$OUT/model_info.json"
$GF sample "$OUT/penguins.gf" -n 344 --seed 1 --out "$OUT/samples.csv"
$GF score "$OUT/penguins.gf" --data "$DATA" --out "$OUT/scores.csv"
$GF eval table --real "$DATA" --synthetic "$OUT/samples.csv" --metrics quality,dcr,newrows --json > "$OUT/table_eval.json"
$GF plot "$DATA:penguins (data)" "$OUT/samples.csv:GMM samples" --x "Flipper Length (mm)" --y "Body Mass (g)" \
  --title "Palmer penguins: data vs GMM samples" --out "$OUT/data_vs_samples.png"
$GF plot "$DATA:penguins (data)" "$OUT/samples.csv:GMM samples" --x "Beak Length (mm)" --y "Beak Depth (mm)" \
  --title "Palmer penguins: data vs GMM samples" --out "$OUT/beaks.png"
# Synthetic penguins: a Bayesian network over all seven columns, Gentoo birds only, heavier than 5 kg; the report
# page holds the utility, fidelity and privacy figures.
$GF synth --data "$DATA" --model bayesnet -n 300 --condition "Species=Gentoo" --constraint "Body Mass (g) > 5000" \
  --out "$OUT/synthetic_gentoo.csv" --save "$OUT/penguins_bayesnet.gf" --report "$OUT/synthetic_gentoo.report.html"
$GF info "$OUT/penguins_bayesnet.gf" --graph "$OUT/penguins_bayesnet.png"
$GF train pos-tagger --data brown:a-m --out "$OUT/tagger.gf"
$GF tag "$OUT/tagger.gf" --gold brown:n-r --json > "$OUT/tagger_accuracy.json"
echo "The jury said the quick brown fox jumped over the lazy dog ." > "$OUT/sentence.txt"
$GF tag "$OUT/tagger.gf" -i "$OUT/sentence.txt" --out "$OUT/sentence_tagged.txt"
$GF train lda --data brown --min-df 5 --max-df 0.2 --set n_components=15 --set passes=60 --out "$OUT/topics.gf"
$GF topics "$OUT/topics.gf" --data brown -n 8 > "$OUT/topics.txt"
echo "demo: DCGAN in $OUT/dcgan/ (samples.png, interpolation.png, loss.png, samples/, model.gf, eval.json, ppl.json)"
echo "demo: results in $OUT/ (penguins.gf, model_info.json, samples.csv, scores.csv, table_eval.json, data_vs_samples.png, beaks.png)"
echo "demo: synthetic table in $OUT/ (synthetic_gentoo.csv, synthetic_gentoo.report.html/.json, penguins_bayesnet.png)"
echo "demo: text in $OUT/ (tagger.gf, tagger_accuracy.json, sentence_tagged.txt, topics.gf, topics.txt)"
