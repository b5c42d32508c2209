#!/usr/bin/env python3
"""Golden values for gf::eval::classification_report (tests/classification_test.cpp) from scikit-learn:
precision_recall_fscore_support (zero_division=0), accuracy_score, balanced_accuracy_score, confusion_matrix.
Cases: random labels with 4 classes; a class never predicted; a class predicted but never true; perfect predictions.
Run with Debian's python3-sklearn: /usr/bin/python3 tests/reference/make_classification_golden.py"""
import json, os

import numpy as np
import sklearn
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, confusion_matrix,
                             precision_recall_fscore_support)

rng = np.random.default_rng(7)
truth = rng.integers(0, 4, 60)
noisy = np.where(rng.random(60) < 0.6, truth, rng.integers(0, 4, 60))
cases = {
    "random_4": (truth, noisy),
    "never_predicted": (np.array([0, 0, 1, 1, 2, 2, 2, 0]), np.array([0, 1, 1, 1, 0, 1, 1, 0])),
    "predicted_never_true": (np.array([0, 1, 1, 0, 1]), np.array([0, 1, 3, 0, 3])),
    "perfect": (np.array([2, 0, 1, 2]), np.array([2, 0, 1, 2])),
}
out = {"sklearn": sklearn.__version__, "cases": {}}
for name, (t, p) in cases.items():
    labels = sorted(set(t) | set(p))
    precision, recall, f1, support = precision_recall_fscore_support(t, p, labels=labels, zero_division=0)
    k = max(max(t), max(p)) + 1
    out["cases"][name] = {
        "truth": t.tolist(), "predicted": p.tolist(), "labels": [int(l) for l in labels],
        "precision": precision.tolist(), "recall": recall.tolist(), "f1": f1.tolist(), "support": support.tolist(),
        "accuracy": accuracy_score(t, p), "balanced_accuracy": balanced_accuracy_score(t, p),
        "macro_precision": float(np.mean(precision)), "macro_recall": float(np.mean(recall)),
        "macro_f1": float(np.mean(f1)), "confusion": confusion_matrix(t, p, labels=list(range(k))).tolist(),
    }
json.dump(out, open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "classification_golden.json"), "w"),
          indent=1)
print("wrote classification_golden.json")
