#!/usr/bin/python3
"""W12, the peer's side: imputation of numeric tables under MCAR masks.

Usage:  w12_peer.py prepare OUTDIR [--seed S]
        w12_peer.py peer OUTDIR
        w12_peer.py score OUTDIR TABLE RATE FILLED.csv [--draws DRAWS.csv]

Tables (numeric columns only; rows with any missing value among them dropped first):
  penguins      data/vega-datasets/data/penguins.json: Beak Length (mm), Beak Depth (mm), Flipper Length (mm),
                Body Mass (g)                                                        (342 rows)
  fmnist_pca32  first 5000 rows of ../shared/bench/bench-data/fmnist_pca32_train.npy (float32 -> float64),
                columns x0..x31
  cars          data/vega-datasets/data/cars.json: Miles_per_Gallon, Cylinders, Displacement, Horsepower,
                Weight_in_lbs, Acceleration                                          (392 rows)
  (paths relative to the repository root, the parent of this script's folder)
Masks: for each table and RATE in 0.1, 0.2, 0.4 a fresh numpy default_rng(S) (S = 0 unless --seed); mask =
  rng.random((n, d)) < RATE (True = missing); then, while some row is wholly missing, those rows (ascending
  order) get new draws rng.random((k, d)) < RATE. The same seed for every table and rate, so the masks of one
  table are nested across rates.
prepare writes OUTDIR/{table}_full.csv (complete), OUTDIR/{table}_{RATE}.csv (masked cells as empty fields) and
  OUTDIR/{table}_{RATE}_mask.npy (bool [n, d]); CSVs: one header line with the column names, values as Python
  repr of the float64 (full precision), no quoting, RATE written as 0.1 / 0.2 / 0.4.
RMSE (GAIN's convention): every column min-max normalised with the min and max of the ORIGINAL complete table;
  sqrt(mean((filled - true)^2)) over the masked cells only, all columns pooled.
peer: IterativeImputer(max_iter=10, random_state=0) (BayesianRidge), KNNImputer(n_neighbors=5),
  SimpleImputer(strategy='mean'), each fitted on the masked CSV itself (transductive) in raw units; one JSON line
  {"workload":"W12","side":"peer","rmse":{table:{rate:{method:x}}},"seconds":{table:{rate:{method:s}}}}.
  Extra method knn_scaled: KNNImputer(n_neighbors=5) on columns min-max scaled by the OBSERVED min/max of the
  masked table (no information from the complete table), unscaled afterwards.
score: FILLED.csv = genforge's output (optional leading '#' lines, header, columns matched by name, extra
  columns ignored, rows in the original order) -> {"rmse": x}. With --draws DRAWS.csv (long table: a column
  `imputation` 0..M-1 and the table's columns, rows in the original order within each imputation): per masked
  cell the 5% and 95% quantiles over the M draws (np.quantile, linear) -> "coverage_90" = share of masked cells
  whose true value lies in [q05, q95]; "rmse_of_mean_of_draws" = RMSE of the per-cell mean over the draws.
Output: one JSON line, the last stdout line.
"""
import csv
import json
import os
import sys
import time
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLES = ("penguins", "fmnist_pca32", "cars")
RATES = (0.1, 0.2, 0.4)
COLS = {"penguins": ["Beak Length (mm)", "Beak Depth (mm)", "Flipper Length (mm)", "Body Mass (g)"],
        "fmnist_pca32": ["x%d" % i for i in range(32)],
        "cars": ["Miles_per_Gallon", "Cylinders", "Displacement", "Horsepower", "Weight_in_lbs", "Acceleration"]}


def load_table(name):
    if name == "fmnist_pca32":
        return np.load(os.path.join(ROOT, "..", "shared", "bench", "bench-data",
                                    "fmnist_pca32_train.npy"))[:5000].astype(np.float64)
    with open(os.path.join(ROOT, "data", "vega-datasets", "data", name + ".json")) as f:
        recs = json.load(f)
    rows = [[r.get(c) for c in COLS[name]] for r in recs]
    return np.array([r for r in rows if all(v is not None for v in r)], dtype=np.float64)


def make_mask(n, d, rate, seed):
    rng = np.random.default_rng(seed)
    m = rng.random((n, d)) < rate
    while True:
        bad = np.flatnonzero(m.all(axis=1))
        if len(bad) == 0:
            return m
        m[bad] = rng.random((len(bad), d)) < rate


def write_csv(path, cols, x, mask=None):
    with open(path, "w") as f:
        f.write(",".join(cols) + "\n")
        for i, row in enumerate(x):
            f.write(",".join("" if mask is not None and mask[i, j] else repr(float(v))
                             for j, v in enumerate(row)) + "\n")


def read_csv(path, cols, extra=()):
    """-> {name: float64 array} for cols + extra; empty fields -> nan; '#' lines skipped."""
    with open(path, newline="") as f:
        lines = [ln for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
    rows = list(csv.reader(lines))
    header = [h.strip() for h in rows[0]]
    out = {}
    for c in list(cols) + list(extra):
        if c not in header:
            sys.exit("%s: no column %r in header %r" % (path, c, header))
        j = header.index(c)
        out[c] = np.array([float(r[j]) if r[j].strip() else np.nan for r in rows[1:]], dtype=np.float64)
    return out


def read_matrix(path, cols):
    d = read_csv(path, cols)
    return np.column_stack([d[c] for c in cols])


def rstr(rate):
    return repr(float(rate))


def nrmse(filled, full, mask):
    lo, hi = full.min(axis=0), full.max(axis=0)
    rng = np.where(hi > lo, hi - lo, 1.0)
    diff = (filled - full) / rng
    return float(np.sqrt(np.mean(diff[mask] ** 2)))


def prepare(outdir, seed):
    os.makedirs(outdir, exist_ok=True)
    for t in TABLES:
        x = load_table(t)
        write_csv(os.path.join(outdir, "%s_full.csv" % t), COLS[t], x)
        for r in RATES:
            m = make_mask(*x.shape, r, seed)
            write_csv(os.path.join(outdir, "%s_%s.csv" % (t, rstr(r))), COLS[t], x, m)
            np.save(os.path.join(outdir, "%s_%s_mask.npy" % (t, rstr(r))), m)
            print("%s rate %s: %d x %d, %d masked cells (%.3f)" % (t, rstr(r), *x.shape, m.sum(), m.mean()),
                  file=sys.stderr)
    print(json.dumps({"workload": "W12", "side": "prepare", "seed": seed,
                      "tables": {t: list(load_table(t).shape) for t in TABLES}}))


def peer(outdir):
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer

    def knn_scaled(xm):
        lo, hi = np.nanmin(xm, axis=0), np.nanmax(xm, axis=0)
        s = np.where(hi > lo, hi - lo, 1.0)
        f = KNNImputer(n_neighbors=5).fit_transform((xm - lo) / s) * s + lo
        return np.where(np.isnan(xm), f, xm)

    methods = {"iterative": lambda xm: IterativeImputer(max_iter=10, random_state=0).fit_transform(xm),
               "knn": lambda xm: KNNImputer(n_neighbors=5).fit_transform(xm),
               "mean": lambda xm: SimpleImputer(strategy="mean").fit_transform(xm),
               "knn_scaled": knn_scaled}
    rmse, secs = {}, {}
    for t in TABLES:
        full = read_matrix(os.path.join(outdir, "%s_full.csv" % t), COLS[t])
        rmse[t], secs[t] = {}, {}
        for r in RATES:
            xm = read_matrix(os.path.join(outdir, "%s_%s.csv" % (t, rstr(r))), COLS[t])
            m = np.load(os.path.join(outdir, "%s_%s_mask.npy" % (t, rstr(r))))
            assert np.array_equal(np.isnan(xm), m)
            rmse[t][rstr(r)], secs[t][rstr(r)] = {}, {}
            for name, fn in methods.items():
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    f = fn(xm)
                secs[t][rstr(r)][name] = round(time.perf_counter() - t0, 3)
                assert f.shape == full.shape and np.array_equal(f[~m], full[~m])
                rmse[t][rstr(r)][name] = round(nrmse(f, full, m), 4)
            print(t, rstr(r), rmse[t][rstr(r)], file=sys.stderr)
    print(json.dumps({"workload": "W12", "side": "peer", "rmse": rmse, "seconds": secs,
                      "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}))


def score(outdir, table, rate, filled_csv, draws_csv=None):
    cols = COLS[table]
    full = read_matrix(os.path.join(outdir, "%s_full.csv" % table), cols)
    m = np.load(os.path.join(outdir, "%s_%s_mask.npy" % (table, rstr(rate))))
    f = read_matrix(filled_csv, cols)
    if f.shape != full.shape or not np.all(np.isfinite(f[m])):
        sys.exit("%s: shape %s (want %s) or non-finite imputed cells" % (filled_csv, f.shape, full.shape))
    out = {"rmse": round(nrmse(f, full, m), 4)}
    if draws_csv:
        d = read_csv(draws_csv, cols, extra=("imputation",))
        imp = d["imputation"].astype(np.int64)
        nm = int(imp.max()) + 1
        draws = np.stack([np.column_stack([d[c][imp == k] for c in cols]) for k in range(nm)])
        if draws.shape != (nm,) + full.shape or not np.all(np.isfinite(draws[:, m])):
            sys.exit("%s: draws shape %s, want %s" % (draws_csv, draws.shape, (nm,) + full.shape))
        q05, q95 = np.quantile(draws, [0.05, 0.95], axis=0)
        cover = (full >= q05) & (full <= q95)
        out.update({"m": nm, "coverage_90": round(float(cover[m].mean()), 4),
                    "rmse_of_mean_of_draws": round(nrmse(draws.mean(axis=0), full, m), 4)})
    print(json.dumps(out))


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) >= 2 and a[0] == "prepare":
        prepare(a[1], int(a[a.index("--seed") + 1]) if "--seed" in a else 0)
    elif len(a) == 2 and a[0] == "peer":
        peer(a[1])
    elif (len(a) == 5 or len(a) == 7 and a[5] == "--draws") and a[0] == "score" and a[2] in TABLES:
        score(a[1], a[2], float(a[3]), a[4], a[6] if len(a) == 7 and a[5] == "--draws" else None)
    else:
        sys.exit(__doc__)
