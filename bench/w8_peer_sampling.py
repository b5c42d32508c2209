#!/usr/bin/python3
"""W8 sampling, the peer's side: the gated PixelCNN of ../shared/bench/peers/w8_pixelcnn.py sampled the naive way
(one full forward pass of the batch of 64 per pixel, raster order, Bernoulli draws), as PyTorch users write it.
A whole image would take minutes, so the first ROWS rows are timed and the time is scaled to 28 rows (every pixel
costs the same full pass). Usage: w8_peer_sampling.py PEERS_DIR [ROWS]"""
import json
import os
import sys
import time

peers = sys.argv[1]
rows = int(sys.argv[2]) if len(sys.argv) > 2 else 2
sys.path.insert(0, peers)
import torch  # noqa: E402
import torch_util  # noqa: E402
import importlib.util  # noqa: E402

spec = importlib.util.spec_from_file_location("w8", os.path.join(peers, "w8_pixelcnn.py"))
w8 = importlib.util.module_from_spec(spec)
spec.loader.exec_module(w8)
torch_util.setup(0)
model = w8.GatedPixelCNN()
x = torch.zeros(64, 1, 28, 28)
t = time.perf_counter()
with torch.no_grad():
    for i in range(rows):
        for j in range(28):
            p = torch.sigmoid(model(x)[:, 0, i, j])
            x[:, 0, i, j] = torch.bernoulli(p)
dt = time.perf_counter() - t
print(json.dumps({"rows_timed": rows, "timed_s": dt, "naive_64_s": dt * 28 / rows, "threads": torch.get_num_threads()}))
