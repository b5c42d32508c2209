#!/usr/bin/env python3
"""W13, table part (bench/run W13t): oversampling a minority class cut to 5 % of the training rows, genforge against
SMOTE (imbalanced-learn), judged by scikit-learn classifiers' balanced accuracy on an untouched test split.

Per table and seed (0..SEEDS-1): a stratified 70/30 split; in the training part the minority class keeps only as many
rows as make it 5 % of the training rows; then four training sets — the imbalanced rows alone, + SMOTE
(k_neighbors = min(5, minority - 1)), + `genforge augment --balance` with a GMM (one full-covariance Gaussian per
class), with the Gaussian copula (one per class), and by SMOTE in the normal-score space of one copula fitted on all
the training rows (`--method interpolate`) — each up to the majority count; a logistic regression (standardised inputs) and
a random forest (200 trees) trained on each and scored on the test split. Medians over seeds are printed as one JSON
line per table and a summary line; genforge's arms must be >= SMOTE's (the issue's goal).
Usage: bench/w13_tables.py GENFORGE TMPDIR [SEEDS]"""
import csv, json, os, statistics, subprocess, sys

import numpy as np
from imblearn.over_sampling import SMOTE
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

GF, TMP = sys.argv[1], sys.argv[2]
SEEDS = int(sys.argv[3]) if len(sys.argv) > 3 else 5
VEGA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "vega-datasets", "data")


def load(name, target, features, keep=None):
    path = os.path.join(VEGA, name)
    rows = json.load(open(path)) if name.endswith(".json") else list(csv.DictReader(open(path)))
    x, y = [], []
    for r in rows:
        values = [r.get(f) for f in features]
        if r.get(target) in (None, "") or any(v in (None, "") for v in values):
            continue
        if keep and r[target] not in keep:
            continue
        x.append([float(v) for v in values])
        y.append(r[target])
    return np.array(x), np.array(y)


TABLES = [  # name, target, minority class, features, classes kept
    ("penguins.json", "Species", "Chinstrap",
     ["Beak Length (mm)", "Beak Depth (mm)", "Flipper Length (mm)", "Body Mass (g)"], None),
    ("cars.json", "Origin", "Europe",
     ["Miles_per_Gallon", "Cylinders", "Displacement", "Horsepower", "Weight_in_lbs", "Acceleration"], None),
    ("seattle-weather.csv", "weather", "rain", ["precipitation", "temp_max", "temp_min", "wind"], {"rain", "sun"}),
]


ARMS = {  # genforge's arms: `augment` arguments
    "genforge_gmm": ["--model", "gmm", "--set", "n_components=1"],
    "genforge_copula": ["--model", "copula"],
    "genforge_copula_smote": ["--model", "copula", "--method", "interpolate"],
}


def genforge_oversample(x, y, features, target, arm, seed, work):
    train = os.path.join(work, "train.csv")
    out = os.path.join(work, f"synthetic_{arm}.csv")
    with open(train, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(features + [target])
        for row, label in zip(x, y):
            w.writerow([repr(float(v)) for v in row] + [label])
    subprocess.run([GF, "augment", "--data", train, "--label", target, *ARMS[arm], "--balance",
                    "--seed", str(seed), "--out", out, "-q", "--threads", "1"], check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        lines = [l for l in f if not l.startswith("#")]
    rows = list(csv.DictReader(lines))
    xs = np.array([[float(r[c]) for c in features] for r in rows])
    ys = np.array([r[target] for r in rows])
    return np.vstack([x, xs]), np.concatenate([y, ys])


def classifiers(seed):
    return {"logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
            "forest": RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=1)}


results = []
for name, target, minority, features, keep in TABLES:
    x, y = load(name, target, features, keep)
    per_seed = []
    for seed in range(SEEDS):
        x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.3, stratify=y, random_state=seed)
        rng = np.random.default_rng(seed)
        others = np.flatnonzero(y_tr != minority)
        minority_rows = np.flatnonzero(y_tr == minority)
        n_min = max(6, round(0.05 * len(others) / 0.95))
        kept = np.concatenate([others, rng.choice(minority_rows, size=n_min, replace=False)])
        x_imb, y_imb = x_tr[kept], y_tr[kept]
        work = os.path.join(TMP, f"{name}.{seed}")
        os.makedirs(work, exist_ok=True)
        sets = {"none": (x_imb, y_imb),
                "smote": SMOTE(random_state=seed, k_neighbors=min(5, n_min - 1)).fit_resample(x_imb, y_imb)}
        for arm in ARMS:
            sets[arm] = genforge_oversample(x_imb, y_imb, features, target, arm, seed, work)
        scores = {}
        for arm, (xa, ya) in sets.items():
            for clf_name, clf in classifiers(seed).items():
                clf.fit(xa, ya)
                scores[f"{arm}/{clf_name}"] = balanced_accuracy_score(y_te, clf.predict(x_te))
        per_seed.append(scores)
    medians = {k: round(statistics.median(s[k] for s in per_seed), 4) for k in per_seed[0]}
    row = {"table": name, "target": target, "minority": minority, "minority_train_rows": int(n_min),
           "train_rows": int(len(kept)), "test_rows": int(len(y_te)), "seeds": SEEDS,
           "balanced_accuracy_median": medians}
    results.append(row)
    print(json.dumps(row), flush=True)

summary = {"workload": "W13t"}
for clf_name in ("logistic", "forest"):
    for arm in ARMS:
        wins = sum(r["balanced_accuracy_median"][f"{arm}/{clf_name}"] >= r["balanced_accuracy_median"][f"smote/{clf_name}"]
                   for r in results)
        summary[f"{arm}/{clf_name}: tables >= smote"] = f"{wins}/{len(results)}"
print(json.dumps(summary))
