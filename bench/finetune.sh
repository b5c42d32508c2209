#!/usr/bin/env bash
# Fine-tuning check (issue 21 §3): a GPT trained on the Brown categories a-m (the W14 model, $FT_BASE), fine-tuned on
# 10 % of the sentences of category r (humor: every 10th line, 11 KB), scored on other sentences of r (the odd
# lines, 55 KB; bits per character), against the base model without fine-tuning and a model trained from scratch on
# the same 10 % for the same steps (same architecture, its own BPE tokenizer of the same size, lr 1e-3). Fine-tuning:
# all parameters at lr 3e-5; two-phase: the last block and the final norm at lr 1e-4 for half the steps, then all at
# 3e-5. LoRA: rank-4 adapters (alpha 8) on every matrix of every block, trained alone at lr $FT_LORA_LR (3e-4).
# Batch 8, steps $FT_STEPS (default "10 25 50"). One JSON line per step count.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${FT_BASE:-data/w14/gpt.gf}
GF=./build/genforge
[ -f "$BASE" ] || { echo "error: no base model $BASE (bench/run W14 trains it)" >&2; exit 2; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
./build/bench/gf_bench_w14_text brown:r "$TMP/r.txt"
python3 - "$TMP" <<'PY'
import sys
tmp = sys.argv[1]
lines = open(tmp + "/r.txt").read().splitlines(keepends=True)
n = len(lines)
open(tmp + "/train.txt", "w").write("".join(l for i, l in enumerate(lines) if i % 10 == 0))
open(tmp + "/test.txt", "w").write("".join(l for i, l in enumerate(lines) if i % 2 == 1))
PY
bpc() { $GF score "$1" --data "$TMP/test.txt" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["bits_per_character"])'; }
BASE_BPC=$(bpc "$BASE")
for steps in ${FT_STEPS:-10 25 50}; do
  $GF finetune "$BASE" --data "$TMP/train.txt" --max_steps "$steps" --batch_size 8 --lr 3e-5 --warmup_steps 0 \
    --out "$TMP/ft.gf" -q > /dev/null
  $GF finetune "$BASE" --data "$TMP/train.txt" --max_steps "$steps" --batch_size 8 --lr 1e-4 --warmup_steps 0 \
    --train-only 'h3_*' --train-only ln_f --unfreeze-after $((steps / 2)) --unfreeze-lr-scale 0.3 \
    --out "$TMP/ft2.gf" -q > /dev/null
  $GF finetune "$BASE" --data "$TMP/train.txt" --max_steps "$steps" --batch_size 8 --lr "${FT_LORA_LR:-3e-4}" \
    --warmup_steps 0 --lora rank=4,alpha=8 --json --out "$TMP/lora.gf" -q > "$TMP/lora.json"
  $GF train gpt --data "$TMP/train.txt" --tokenizer bpe --vocab_size 1024 --max_steps "$steps" --batch_size 8 \
    --warmup_steps 0 --out "$TMP/scratch.gf" -q > /dev/null
  python3 - "$steps" "$BASE_BPC" "$(bpc "$TMP/ft.gf")" "$(bpc "$TMP/ft2.gf")" "$(bpc "$TMP/lora.gf")" \
    "$(bpc "$TMP/scratch.gf")" "$(wc -c < "$TMP/train.txt")" "$(wc -c < "$TMP/test.txt")" "$TMP/lora.json" <<'PY'
import json, sys
steps, base, ft, ft2, lora, scratch, n_train, n_test, lora_json = sys.argv[1:]
base, ft, ft2, lora, scratch = map(float, (base, ft, ft2, lora, scratch))
phase = json.load(open(lora_json))["extra"]["finetune"]["phases"][0]
share = phase["trained"]["parameters"] / (phase["trained"]["parameters"] + phase["frozen"]["parameters"])
print(json.dumps({"check": "finetune-gpt", "steps": int(steps), "train_bytes": int(n_train), "test_bytes": int(n_test),
                  "bpc_base": round(base, 4), "bpc_finetuned": round(ft, 4),
                  "bpc_finetuned_two_phase": round(ft2, 4), "bpc_lora": round(lora, 4),
                  "lora_trainable_share": round(share, 4), "bpc_from_scratch": round(scratch, 4),
                  "goal_met": ft < scratch and ft < base,
                  "lora_goal_met": lora - ft <= 0.05 and share < 0.05}))
PY
done
