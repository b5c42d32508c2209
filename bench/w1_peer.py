#!/usr/bin/python3
"""The W1 peer (scikit-learn GaussianMixture, as ../shared/bench/peers/w1_gmm.py) for every covariance type.
Prints one JSON object. Usage: w1_peer.py TRAIN.npy TEST.npy SEED. Thread count from OMP_NUM_THREADS, set by bench/run before numpy is imported."""
import json
import sys
import time

import numpy as np
from sklearn.mixture import GaussianMixture

seed = int(sys.argv[3])
xtr = np.load(sys.argv[1]).astype(np.float64)
xte = np.load(sys.argv[2]).astype(np.float64)
out = {}
for cov in ("full", "diag", "tied", "spherical"):
    gm = GaussianMixture(n_components=10, covariance_type=cov, tol=1e-3, max_iter=100, reg_covar=1e-6,
                         init_params="kmeans", random_state=seed)
    t = time.perf_counter()
    gm.fit(xtr)
    dt = time.perf_counter() - t
    out[cov] = {"fit_s": dt, "n_iter": int(gm.n_iter_), "s_per_iter": dt / gm.n_iter_,
                "converged": bool(gm.converged_), "lower_bound": float(gm.lower_bound_),
                "test_score": float(gm.score(xte))}
print(json.dumps(out))
