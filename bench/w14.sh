#!/usr/bin/env bash
# W14 (../shared/WORKLOADS.md): lossless compression, genforge and the usual compressors on the same bytes in one run.
#   text    the Brown sentences of categories n-r (one per line, 780 KB), coded by a GPT (byte-level BPE, 1024 tokens,
#           4 layers x 128) trained on categories a-m, and by the built-in order-4 model; peers gzip -9, bzip2 -9,
#           xz -9e, zstd -19. Goal: <= 0.8x xz's size; coding overhead < 1 % of the model's cross-entropy.
#   images  the first $W14_IMAGES (1000) Fashion-MNIST test images as IDX, coded by a PixelCNN (256-level logistic
#           mixture) trained on the training images; peers PNG (zlib level 9 re-optimised by optipng -o7, one file per
#           image, and one strip of all images) and xz -9e on the raw IDX. Goal: <= 0.6x PNG's size.
# Models are trained once into $W14_DIR (default data/w14; W14_GPT_STEPS, W14_PIXELCNN_STEPS) and reused; the
# timings are the coding runs (compress, then decompress and compare). One JSON line per part.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${W14_DIR:-data/w14}
N_IMAGES=${W14_IMAGES:-1000}
GF=./build/genforge
mkdir -p "$DIR"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

size() { stat -c %s "$1"; }
# Seconds of one command.
timed() { python3 -c 'import subprocess, sys, time; t = time.time(); subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True); print(time.time() - t)' "$@"; }
peers() {  # FILE -> "gzip bzip2 xz zstd" sizes
  echo "$(gzip -9 -c "$1" | wc -c) $(bzip2 -9 -c "$1" | wc -c) $(xz -9e -c "$1" | wc -c) $(zstd -19 -q -c "$1" | wc -c)"
}

# ---- text
TEXT="$DIR/brown-n-r.txt"
./build/bench/gf_bench_w14_text brown:n-r "$TEXT"
if [ ! -f "$DIR/gpt.gf" ]; then
  $GF train gpt --data brown:a-m --tokenizer bpe --vocab_size 1024 --max_steps "${W14_GPT_STEPS:-3500}" \
    --out "$DIR/gpt.gf" -q
fi
$GF compress "$DIR/gpt.gf" "$TEXT" "$TMP/t.gfz" --json -q > "$TMP/gpt.json"
$GF decompress "$DIR/gpt.gf" "$TMP/t.gfz" "$TMP/t.txt" --json -q > "$TMP/gpt_d.json"
cmp -s "$TEXT" "$TMP/t.txt" || { echo "W14: GPT round trip differs" >&2; exit 1; }
$GF compress "$TEXT" "$TMP/b.gfz" --json -q > "$TMP/builtin.json"
$GF decompress "$TMP/b.gfz" "$TMP/b.txt" --json -q > "$TMP/builtin_d.json"
cmp -s "$TEXT" "$TMP/b.txt" || { echo "W14: built-in round trip differs" >&2; exit 1; }
read -r GZ BZ XZ ZS <<< "$(peers "$TEXT")"
XZ_S=$(timed xz -9e -c "$TEXT")
python3 - "$TMP" "$GZ" "$BZ" "$XZ" "$ZS" "$XZ_S" "$(size "$TEXT")" <<'PY'
import json, sys
tmp, gz, bz, xz, zs, xz_s, n = sys.argv[1], *map(float, sys.argv[2:])
g, gd = json.load(open(tmp + "/gpt.json")), json.load(open(tmp + "/gpt_d.json"))
b, bd = json.load(open(tmp + "/builtin.json")), json.load(open(tmp + "/builtin_d.json"))
bpb = lambda s: round(8 * s / n, 4)
print(json.dumps({
    "workload": "W14-text", "original_bytes": int(n),
    "genforge_gpt": {"bytes": g["compressed_bytes"], "bits_per_byte": round(g["bits_per_byte"], 4),
                     "model_bits_per_byte": round(g["model_bits_per_byte"], 4),
                     "coding_overhead_pct": round(100 * g["coding_overhead"], 3),
                     "compress_kb_s": round(g["kb_per_s"], 1), "decompress_kb_s": round(gd["kb_per_s"], 1)},
    "genforge_order4": {"bytes": b["compressed_bytes"], "bits_per_byte": round(b["bits_per_byte"], 4),
                        "compress_kb_s": round(b["kb_per_s"], 1), "decompress_kb_s": round(bd["kb_per_s"], 1)},
    "gzip_9": {"bytes": int(gz), "bits_per_byte": bpb(gz)}, "bzip2_9": {"bytes": int(bz), "bits_per_byte": bpb(bz)},
    "xz_9e": {"bytes": int(xz), "bits_per_byte": bpb(xz), "compress_kb_s": round(n / 1024 / xz_s, 1)},
    "zstd_19": {"bytes": int(zs), "bits_per_byte": bpb(zs)},
    "gpt_vs_xz": round(g["compressed_bytes"] / xz, 4), "order4_vs_xz": round(b["compressed_bytes"] / xz, 4),
    "goal_met": g["compressed_bytes"] <= 0.8 * xz and g["coding_overhead"] < 0.01}))
PY

# ---- images
python3 - "$TMP" "$N_IMAGES" <<'PY'
import gzip, struct, sys, zlib
tmp, n = sys.argv[1], int(sys.argv[2])
raw = gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").read()
px = raw[16:16 + n * 784]
open(tmp + "/test.idx", "wb").write(raw[:4] + struct.pack(">I", n) + raw[8:16] + px)
def png(w, h, data):
    rows = b"".join(b"\x00" + data[i * w:(i + 1) * w] for i in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))
import os
os.makedirs(tmp + "/png", exist_ok=True)
for i in range(n):
    open("%s/png/%05d.png" % (tmp, i), "wb").write(png(28, 28, px[i * 784:(i + 1) * 784]))
open(tmp + "/strip.png", "wb").write(png(28, 28 * n, px))
PY
optipng -o7 -quiet "$TMP"/png/*.png "$TMP/strip.png"
PNG_FILES=$(du -cb "$TMP"/png/*.png | tail -1 | cut -f1)
PNG_STRIP=$(size "$TMP/strip.png")
XZ_IDX=$(xz -9e -c "$TMP/test.idx" | wc -c)
if [ ! -f "$DIR/pixelcnn.gf" ]; then
  $GF train pixelcnn --data fashion-mnist --output logistic_mixture --max_steps "${W14_PIXELCNN_STEPS:-900}" \
    --out "$DIR/pixelcnn.gf" -q
fi
$GF compress "$DIR/pixelcnn.gf" "$TMP/test.idx" "$TMP/i.gfz" --json -q > "$TMP/pix.json"
$GF decompress "$DIR/pixelcnn.gf" "$TMP/i.gfz" "$TMP/i.idx" --json -q > "$TMP/pix_d.json"
cmp -s "$TMP/test.idx" "$TMP/i.idx" || { echo "W14: PixelCNN round trip differs" >&2; exit 1; }
$GF compress "$TMP/test.idx" "$TMP/ib.gfz" --json -q > "$TMP/ib.json"
python3 - "$TMP" "$PNG_FILES" "$PNG_STRIP" "$XZ_IDX" "$N_IMAGES" <<'PY'
import json, sys
tmp, png_files, png_strip, xz, n = sys.argv[1], *map(int, sys.argv[2:])
p, pd, b = (json.load(open(tmp + f)) for f in ("/pix.json", "/pix_d.json", "/ib.json"))
pixels = 784 * n
bpp = lambda s: round(8 * s / pixels, 4)
best_png = min(png_files, png_strip)
print(json.dumps({
    "workload": "W14-images", "images": n, "idx_bytes": p["original_bytes"],
    "genforge_pixelcnn": {"bytes": p["compressed_bytes"], "bits_per_pixel": round(p["bits_per_pixel"], 4),
                          "model_bits_per_pixel": round(p["model_bits"] / pixels, 4),
                          "coding_overhead_pct": round(100 * p["coding_overhead"], 3),
                          "compress_kb_s": round(p["kb_per_s"], 2), "decompress_kb_s": round(pd["kb_per_s"], 2)},
    "genforge_order4": {"bytes": b["compressed_bytes"], "bits_per_pixel": bpp(b["compressed_bytes"])},
    "png_per_image_optipng": {"bytes": png_files, "bits_per_pixel": bpp(png_files)},
    "png_strip_optipng": {"bytes": png_strip, "bits_per_pixel": bpp(png_strip)},
    "xz_9e_idx": {"bytes": xz, "bits_per_pixel": bpp(xz)},
    "pixelcnn_vs_png": round(p["compressed_bytes"] / best_png, 4),
    "goal_met": p["compressed_bytes"] <= 0.6 * best_png and p["coding_overhead"] < 0.01}))
PY
