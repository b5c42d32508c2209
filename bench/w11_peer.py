#!/usr/bin/python3
"""W11, the peer's side: Fashion-MNIST one-class anomaly detection (one normal class at a time).

Usage:  w11_peer.py OUTDIR [CLASSES]            (CLASSES default "0,1,2,3,4,5,6,7,8,9")
        w11_peer.py --auc OUTDIR SCORES.csv CLASS

Protocol (per normal class c):
  * Data: /usr/share/datasets/fashion-mnist/{train,t10k}-*-ubyte.gz (IDX, gzip); pixels / 255 as float64.
  * Features: sklearn PCA(n_components=32, svd_solver='full') fitted on the 6000 class-c TRAINING images only;
    OUTDIR/c{c}_train.npy = those 6000 images projected ([6000,32] float64), OUTDIR/c{c}_test.npy = all 10000
    test images projected with the same PCA ([10000,32] float64). OUTDIR/test_labels.npy (int64 [10000]) once.
    genforge reads these same files, so both sides see identical features.
  * Peers, fitted on c{c}_train.npy, scoring all of c{c}_test.npy (anomaly score: higher = more anomalous):
      isolation_forest  IsolationForest(n_estimators=100, random_state=0), score = -score_samples
      lof               LocalOutlierFactor(n_neighbors=20, novelty=True), score = -score_samples
      ocsvm             OneClassSVM(kernel='rbf', gamma='scale', nu=0.1) on features standardised by a
                        StandardScaler fitted on the train features, score = -decision_function
      gmm_bic           GaussianMixture(n_components=K, covariance_type='full', random_state=0), K in {1,2,4,8}
                        chosen by the lowest BIC on the train features, score = -score_samples
  * Metric: ROC-AUC (sklearn roc_auc_score) with y = 1 for test images whose label != c (4 decimals).
  * seconds: per method, fit + score summed over the classes run (gmm_bic includes the 4 BIC fits;
    ocsvm includes the scaler). PCA time is reported apart (pca_seconds).
  * Output: one JSON line (the last stdout line) {"workload":"W11","side":"peer",...}.
--auc: reads a genforge CSV (optional leading '#' lines, then a header line with a column `anomaly_score`, one
row per test image in order) and prints {"auc": x} for normal class CLASS (y = 1 where test_labels != CLASS),
using OUTDIR/test_labels.npy. Threads: OMP_NUM_THREADS, set by the caller before numpy is imported.
"""
import csv
import gzip
import json
import os
import sys
import time
import warnings

import numpy as np

FMNIST_DIR = "/usr/share/datasets/fashion-mnist"


def load_images(split):
    with gzip.open(os.path.join(FMNIST_DIR, "%s-images-idx3-ubyte.gz" % split), "rb") as f:
        buf = f.read()
    magic, n, r, c = (int.from_bytes(buf[i:i + 4], "big") for i in (0, 4, 8, 12))
    assert magic == 2051, magic
    return np.frombuffer(buf, dtype=np.uint8, offset=16).reshape(n, r * c).astype(np.float64) / 255.0


def load_labels(split):
    with gzip.open(os.path.join(FMNIST_DIR, "%s-labels-idx1-ubyte.gz" % split), "rb") as f:
        buf = f.read()
    assert int.from_bytes(buf[0:4], "big") == 2049
    return np.frombuffer(buf, dtype=np.uint8, offset=8).astype(np.int64)


def read_score_csv(path, column="anomaly_score"):
    with open(path, newline="") as f:
        lines = [ln for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
    rows = list(csv.reader(lines))
    header = [h.strip() for h in rows[0]]
    if column not in header:
        sys.exit("%s: no column %r in header %r" % (path, column, header))
    j = header.index(column)
    return np.array([float(r[j]) for r in rows[1:]], dtype=np.float64)


def auc_main(outdir, scores_csv, cls):
    from sklearn.metrics import roc_auc_score
    labels = np.load(os.path.join(outdir, "test_labels.npy"))
    s = read_score_csv(scores_csv)
    if len(s) != len(labels):
        sys.exit("%s: %d scores, %d test labels" % (scores_csv, len(s), len(labels)))
    if not np.all(np.isfinite(s)):
        sys.exit("%s: non-finite scores" % scores_csv)
    print(json.dumps({"auc": round(float(roc_auc_score((labels != cls).astype(int), s)), 4)}))


def main(outdir, classes):
    from sklearn.decomposition import PCA
    from sklearn.ensemble import IsolationForest
    from sklearn.metrics import roc_auc_score
    from sklearn.mixture import GaussianMixture
    from sklearn.neighbors import LocalOutlierFactor
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import OneClassSVM

    os.makedirs(outdir, exist_ok=True)
    xtr_all, ytr_all = load_images("train"), load_labels("train")
    xte, yte = load_images("t10k"), load_labels("t10k")
    np.save(os.path.join(outdir, "test_labels.npy"), yte)

    def iforest(tr, te):
        m = IsolationForest(n_estimators=100, random_state=0).fit(tr)
        return -m.score_samples(te), {}

    def lof(tr, te):
        m = LocalOutlierFactor(n_neighbors=20, novelty=True).fit(tr)
        return -m.score_samples(te), {}

    def ocsvm(tr, te):
        sc = StandardScaler().fit(tr)
        m = OneClassSVM(kernel="rbf", gamma="scale", nu=0.1).fit(sc.transform(tr))
        return -m.decision_function(sc.transform(te)), {}

    def gmm_bic(tr, te):
        best = None
        for k in (1, 2, 4, 8):
            g = GaussianMixture(n_components=k, covariance_type="full", random_state=0).fit(tr)
            b = g.bic(tr)
            if best is None or b < best[0]:
                best = (b, k, g)
        return -best[2].score_samples(te), {"k": best[1]}

    methods = {"isolation_forest": iforest, "lof": lof, "ocsvm": ocsvm, "gmm_bic": gmm_bic}
    auc = {m: [] for m in methods}
    secs = {m: 0.0 for m in methods}
    gmm_k = []
    pca_s = 0.0
    for c in classes:
        t = time.perf_counter()
        xc = xtr_all[ytr_all == c]
        pca = PCA(n_components=32, svd_solver="full").fit(xc)
        ftr, fte = pca.transform(xc), pca.transform(xte)
        pca_s += time.perf_counter() - t
        np.save(os.path.join(outdir, "c%d_train.npy" % c), ftr.astype(np.float64))
        np.save(os.path.join(outdir, "c%d_test.npy" % c), fte.astype(np.float64))
        y = (yte != c).astype(int)
        for name, fn in methods.items():
            t = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                s, extra = fn(ftr, fte)
            secs[name] += time.perf_counter() - t
            auc[name].append(round(float(roc_auc_score(y, s)), 4))
            if "k" in extra:
                gmm_k.append(extra["k"])
        print("class %d: %s" % (c, {m: auc[m][-1] for m in methods}), file=sys.stderr)
    mean_auc = {m: round(float(np.mean(v)), 4) for m, v in auc.items()}
    best = max(mean_auc, key=mean_auc.get)
    print(json.dumps({"workload": "W11", "side": "peer", "features": "pca32 per class", "classes": classes,
                      "auc": auc, "mean_auc": mean_auc, "best_peer": best, "best_peer_mean_auc": mean_auc[best],
                      "gmm_k": gmm_k, "seconds": {m: round(v, 3) for m, v in secs.items()},
                      "pca_seconds": round(pca_s, 3), "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}))


if __name__ == "__main__":
    a = sys.argv[1:]
    if a and a[0] == "--auc":
        if len(a) != 4:
            sys.exit("usage: w11_peer.py --auc OUTDIR SCORES.csv CLASS")
        auc_main(a[1], a[2], int(a[3]))
    elif len(a) in (1, 2):
        main(a[0], [int(c) for c in (a[1] if len(a) == 2 else "0,1,2,3,4,5,6,7,8,9").split(",")])
    else:
        sys.exit(__doc__)
