#!/usr/bin/env bash
# Writes the fuzz seeds that the genforge binary makes (scripts/fuzz.sh --make-seeds): a tiny model file of every
# registered kind (fuzz/corpus/model_file), the tokenizer records of tiny language models (fuzz/corpus/tokenizer)
# and compressed streams (fuzz/corpus/compressed). The other seeds come from fuzz/make_seeds.py. Seeds are kept
# small (a few KB) because libFuzzer mutates from them.
set -euo pipefail
cd "$(dirname "$0")/.."
GF=${GENFORGE:-build/genforge}
[ -x "$GF" ] || { echo "error: $GF is not built" >&2; echo "hint: run make build first" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work" <<'PY'
import os, struct, sys, zlib
work = sys.argv[1]
# A mixed table: two numbers, a category, a date; a sequence table; documents; tagged sentences; text.
with open(f"{work}/table.csv", "w") as f:
    f.write("length,width,species,day\n")
    for i in range(80):
        f.write(f"{30 + i % 17 + 0.25 * (i % 5)},{10 + (i * 7) % 9},{['Adelie', 'Gentoo', 'Chinstrap'][i % 3]},2024-01-{1 + i % 28:02d}\n")
with open(f"{work}/sequences.csv", "w") as f:
    f.write("id,symbol\n")
    for i in range(120):
        f.write(f"{i // 12},{(i * i) % 3}\n")
text = "the cat sat on the mat\nthe dog sat on the log\na bird sang a song\nthe cat and the dog\n" * 4
open(f"{work}/text.txt", "w").write(text)
open(f"{work}/docs.txt", "w").write("\n".join(["cat dog mat log cat", "bird song sang bird", "dog log cat mat", "song bird sang"] * 5))
open(f"{work}/tagged.txt", "w").write("\n".join(["the/AT cat/NN sat/VBD ./.", "a/AT dog/NN ran/VBD ./."] * 10) + "\n")
os.makedirs(f"{work}/images", exist_ok=True)
def png(path, pixels, width, height):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + bytes(pixels[y * width:(y + 1) * width]) for y in range(height))
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    open(path, "wb").write(data + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
for k in range(24):
    png(f"{work}/images/{k:02d}.png", [((x * (k % 5 + 1) + y * 3) * 17) % 256 for y in range(8) for x in range(8)], 8, 8)
PY
models=fuzz/corpus/model_file tokenizers=fuzz/corpus/tokenizer streams=fuzz/corpus/compressed
mkdir -p "$models" "$tokenizers" "$streams"
train() {  # NAME KIND DATA [ARGS...]
  local name=$1 kind=$2 data=$3
  shift 3
  "$GF" train "$kind" --data "$data" --out "$work/$name.gf" -q "$@" >/dev/null
  cp "$work/$name.gf" "$models/$name"
}
train gmm gmm "$work/table.csv" --set n_components=2 --columns length,width
train gmm-mixed gmm "$work/table.csv" --set n_components=2 --categorical onehot --standardize true
train bgmm bgmm "$work/table.csv" --set n_components=2 --columns length,width
train copula copula "$work/table.csv"
train bayesnet bayesnet "$work/table.csv"
train tvae tvae "$work/table.csv" --set embedding_dim=2 --set compress_dims=4 --set decompress_dims=4 --set epochs=1
train ctgan ctgan "$work/table.csv" --set embedding_dim=2 --set generator_dim=4 --set discriminator_dim=4 \
  --set epochs=1 --set batch_size=20 --set pac=1
train hmm hmm "$work/sequences.csv" --sequence-column id --set emission=categorical --set max_iter=3
train lda lda "$work/docs.txt" --set n_components=2 --set passes=1
train pos-tagger pos-tagger "$work/tagged.txt"
train vae vae "$work/images" --set architecture=mlp --set hidden=3 --set latent=2 --set epochs=1
train autoencoder autoencoder "$work/images" --set architecture=mlp --set hidden=3 --set latent=2 --set epochs=1
train gan gan "$work/images" --set architecture=mlp --set hidden=3 --set latent=2 --set epochs=1
train flow flow "$work/images" --set architecture=realnvp_mlp --set hidden=3 --set layers=2 --set epochs=1
train pixelcnn pixelcnn "$work/images" --set layers=1 --set hidden=2 --set n_bins=4 --set output=softmax --set epochs=1
train rbm rbm "$work/images" --set n_components=3 --set n_iter=1
train dbn dbn "$work/images" --set layers=3,2 --set layer_n_iter=1,1
train dbm dbm "$work/images" --set layers=3,2 --set pretrain_n_iter=1 --set n_iter=1
# A classifier cut from the GAN's discriminator (its layer stack is parsed from the options) and a LoRA-adapted VAE.
mkdir -p "$work/labelled/a" "$work/labelled/b"
for k in $(seq -w 0 11); do cp "$work/images/$k.png" "$work/labelled/a/"; done
for k in $(seq 12 23); do cp "$work/images/$k.png" "$work/labelled/b/"; done
"$GF" finetune "$work/gan.gf" --data "$work/labelled" --new-head classes=2 --max_steps 1 --out "$models/classifier" -q \
  >/dev/null
"$GF" finetune "$work/vae.gf" --data "$work/images" --lora rank=1 --max_steps 1 --out "$models/vae-lora" -q >/dev/null
for tok in char word bpe unigram; do
  train "gpt-$tok" gpt "$work/text.txt" --tokenizer "$tok" --vocab-size 270 --set n_layer=1 --set n_head=1 \
    --set n_embd=4 --set block_size=8 --set max_steps=1
  python3 - "$work/gpt-$tok.gf" "$tokenizers/$tok" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
meta = json.loads(raw[8:8 + n])["__metadata__"]
pipeline = json.loads(meta["pipeline"]) if "pipeline" in meta else {}
record = pipeline.get("tokenizer") or json.loads(meta["schema"]).get("tokenizer")
open(sys.argv[2], "w").write(json.dumps(record))
PY
done
for order in 0 2 4; do
  "$GF" compress "$work/text.txt" "$streams/text-order$order" --order "$order" >/dev/null
done
head -c 300 /dev/urandom >"$work/random.bin"
"$GF" compress "$work/random.bin" "$streams/random-order3" --order 3 >/dev/null
ls -l "$models" "$tokenizers" "$streams" | awk 'NF > 5 {print $5, $9}'
