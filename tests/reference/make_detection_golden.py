"""Golden values for gf::eval detection metrics (tests/apps_test.cpp): scikit-learn's roc_auc_score and
average_precision_score, and PyOD's precision_n_scores (pyod.utils.utility, reproduced below from its source since
PyOD is not packaged in Debian: threshold = numpy percentile of the scores at 100 * (1 - outlier share), predicted
outliers = scores strictly above it, then sklearn's precision_score). Run: /usr/bin/python3 make_detection_golden.py
"""
import json
import os

import numpy as np
from sklearn.metrics import average_precision_score, precision_score, roc_auc_score


def precision_n_scores(y, y_pred):
    outliers_fraction = np.count_nonzero(y) / len(y)
    threshold = np.percentile(y_pred, 100 * (1 - outliers_fraction))
    return precision_score(y, (y_pred > threshold).astype(int))


rng = np.random.default_rng(7)
cases = []
for n, outliers, ties in ((40, 6, False), (50, 10, True), (25, 5, True)):
    labels = np.zeros(n, dtype=int)
    labels[rng.choice(n, outliers, replace=False)] = 1
    scores = rng.normal(size=n) + 1.5 * labels
    if ties:
        scores = np.round(scores * 2) / 2  # many tied scores
    cases.append({"labels": labels.tolist(), "scores": scores.tolist(),
                  "roc_auc": roc_auc_score(labels, scores),
                  "average_precision": average_precision_score(labels, scores),
                  "precision_at_n": precision_n_scores(labels, scores)})
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "detection_golden.json")
with open(out, "w") as f:
    json.dump({"cases": cases}, f, indent=1)
print("wrote", out)
