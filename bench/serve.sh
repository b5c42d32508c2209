#!/usr/bin/env bash
# Load test of `genforge serve` (issue 23 §3) with wrk: /v1/score on a GMM (penguins, one row per request) and
# /v1/completions on the Brown GPT ($SERVE_GPT, default the W14 model data/w14/gpt.gf, else data/pretrained/
# brown-gpt.gf from `make pretrained`; 64 tokens per request, no stop), at 1, 4 and 16 concurrent clients for
# $SERVE_SECONDS (default 30) each. One JSON line per run: requests/s, p50/p99 latency, non-2xx responses, socket
# errors; completions also tokens/s; last line: tokens/s at 16 clients over 1 client (the batching goal is >= 3).
set -euo pipefail
cd "$(dirname "$0")/.."
GF=./build/genforge
SECONDS_EACH=${SERVE_SECONDS:-30}
GPT=${SERVE_GPT:-}
if [ -z "$GPT" ]; then
  for m in data/w14/gpt.gf data/pretrained/brown-gpt.gf; do [ -f "$m" ] && GPT=$m && break; done
fi
[ -n "$GPT" ] && [ -f "$GPT" ] || { echo "error: no Brown GPT (bench/run W14 or make pretrained trains one)" >&2; exit 2; }
command -v wrk > /dev/null || { echo "error: wrk is not installed (scripts/setup.sh --bench)" >&2; exit 2; }
TMP=$(mktemp -d)
PORT=${SERVE_PORT:-18931}
SERVER=""
trap '[ -n "$SERVER" ] && kill $SERVER 2>/dev/null; rm -rf "$TMP"' EXIT
$GF train gmm --data data/vega-datasets/data/penguins.json --set n_components=3 --set categorical=onehot \
  --out "$TMP/penguins.gf" -q > /dev/null
cp "$GPT" "$TMP/gpt.gf"
$GF serve "$TMP/penguins.gf" "$TMP/gpt.gf" --port "$PORT" --queue 256 > "$TMP/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" > /dev/null && break; sleep 0.1; done
cat > "$TMP/score.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model": "penguins", "rows": [{"Species": "Adelie", "Island": "Torgersen", "Beak Length (mm)": 39.1, "Beak Depth (mm)": 18.7, "Flipper Length (mm)": 181, "Body Mass (g)": 3750, "Sex": "MALE"}]}'
LUA
cat > "$TMP/completions.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, '{"model": "gpt", "prompt": "The jury said", "max_tokens": 64, "seed": ' .. counter .. '}')
end
LUA
run() {  # endpoint clients tokens_per_request
  local threads=$(( $2 < 2 ? 1 : 2 ))
  wrk -t "$threads" -c "$2" -d "${SECONDS_EACH}s" --timeout 30s --latency -s "$TMP/$1.lua" \
    "http://127.0.0.1:$PORT/v1/$1" > "$TMP/wrk.txt"
  python3 - "$TMP/wrk.txt" "$1" "$2" "$3" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
def ms(s):
    v, unit = float(re.match(r"([\d.]+)(\w+)", s).group(1)), re.match(r"([\d.]+)(\w+)", s).group(2)
    return v * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]
pct = dict(re.findall(r"^\s+(\d+)%\s+(\S+)", text, re.M))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
out = {"endpoint": "/v1/" + sys.argv[2], "clients": int(sys.argv[3]), "requests_per_s": rps,
       "p50_ms": ms(pct["50"]), "p99_ms": ms(pct["99"]), "non_2xx": int(non2xx.group(1)) if non2xx else 0,
       "socket_errors": sum(int(x) for x in sock.groups()) if sock else 0}
if int(sys.argv[4]) > 0:
    out["tokens_per_s"] = rps * int(sys.argv[4])
print(json.dumps(out))
PY
}
for c in 1 4 16; do run score "$c" 0; done
for c in 1 4 16; do run completions "$c" 64 | tee -a "$TMP/completions.jsonl"; done
curl -sf "http://127.0.0.1:$PORT/metrics" > "$TMP/metrics.txt"
kill -TERM $SERVER
wait $SERVER || true
SERVER=""
python3 - "$TMP/completions.jsonl" "$TMP/metrics.txt" "$TMP/server.log" <<'PY'
import json, re, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
one = next(r for r in runs if r["clients"] == 1)["tokens_per_s"]
sixteen = next(r for r in runs if r["clients"] == 16)["tokens_per_s"]
m = open(sys.argv[2]).read()
steps = float(re.search(r"^genforge_decode_steps_total (\S+)", m, re.M).group(1))
rows = float(re.search(r"^genforge_decoded_sequences_total (\S+)", m, re.M).group(1))
errors = sum(int(v) for code, v in re.findall(r'code="(\d+)"\} (\d+)', m) if not code.startswith("2"))
log = open(sys.argv[3]).read()
print(json.dumps({"tokens_per_s_16_over_1": round(sixteen / one, 2), "goal": 3.0, "mean_batch": round(rows / steps, 2),
                  "server_non_2xx": errors, "server_stopped_cleanly": "stopped (SIGTERM)" in log}))
PY
