#!/usr/bin/python3
"""Golden values for tests/gmm_test.cpp, made with scikit-learn 1.2 (Debian python3-sklearn).

Run:  /usr/bin/python3 tests/reference/make_gmm_golden.py > tests/reference/gmm_golden.json

Data: 3 well-separated 3-D Gaussian clusters (numpy default_rng(0)), 360 rows, plus 20 test rows. Each covariance
type is fitted from the same explicit initial weights, means and precisions (so the result does not depend on
k-means' random numbers), with tol=1e-6 and max_iter=200. Recorded: the fitted parameters, n_iter_, converged_,
lower_bound_, score_samples and predict_proba on the test rows, bic and aic on the training rows. Then warm_start:
the full and diag fits continued on 200 transformed rows (`more`), as genforge's update does.
"""
import json
import sys

import numpy as np
import sklearn
from sklearn.mixture import GaussianMixture


def data():
    """3 well-separated 3-D Gaussian clusters (360 rows, shuffled) and 20 spread-out test rows."""
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 0.0, 0.0], [5.0, 5.0, 0.0], [0.0, 6.0, 4.0]])
    scales = [np.array([[1.0, 0.3, 0.0], [0.0, 0.7, 0.2], [0.0, 0.0, 0.5]]),
              np.array([[0.6, 0.0, 0.0], [0.4, 1.2, 0.0], [0.0, 0.0, 0.8]]),
              np.array([[0.9, 0.0, 0.3], [0.0, 0.5, 0.0], [0.2, 0.0, 1.1]])]
    counts = [160, 120, 80]
    x = np.vstack([rng.standard_normal((n, 3)) @ s + c for n, s, c in zip(counts, scales, centers)])
    x = x[rng.permutation(len(x))]
    test = rng.standard_normal((20, 3)) * 3.0 + 2.0
    return x, test


def main():
    x, test = data()
    k, d = 3, 3
    weights_init = np.array([0.3, 0.3, 0.4])
    means_init = np.array([[1.0, 1.0, 1.0], [4.0, 4.0, 1.0], [1.0, 5.0, 3.0]])
    out = {"sklearn_version": sklearn.__version__, "x": x.tolist(), "test": test.tolist(),
           "weights_init": weights_init.tolist(), "means_init": means_init.tolist(), "fits": {}}
    for cov in ("full", "tied", "diag", "spherical"):
        if cov == "full":
            prec = np.stack([np.eye(d) * (0.5 + 0.25 * i) for i in range(k)])
        elif cov == "tied":
            prec = np.eye(d) * 0.5
        elif cov == "diag":
            prec = np.stack([np.full(d, 0.5 + 0.25 * i) for i in range(k)])
        else:
            prec = np.array([0.5 + 0.25 * i for i in range(k)])
        gm = GaussianMixture(n_components=k, covariance_type=cov, tol=1e-6, max_iter=200, reg_covar=1e-6,
                             weights_init=weights_init, means_init=means_init, precisions_init=prec,
                             random_state=0)
        gm.fit(x)
        out["fits"][cov] = {
            "precisions_init": prec.tolist(),
            "weights": gm.weights_.tolist(), "means": gm.means_.tolist(),
            "covariances": gm.covariances_.tolist(), "n_iter": int(gm.n_iter_),
            "converged": bool(gm.converged_), "lower_bound": float(gm.lower_bound_),
            "score_samples_test": gm.score_samples(test).tolist(),
            "predict_proba_test": gm.predict_proba(test).tolist(),
            "bic": float(gm.bic(x)), "aic": float(gm.aic(x)),
        }
    # warm_start: fit(x) from the explicit start, then fit(more) from where it ended (genforge's update / finetune).
    more = x[:200] * 1.1 + 0.5
    out["more"] = more.tolist()
    out["warm_start"] = {}
    for cov in ("full", "diag"):
        prec = out["fits"][cov]["precisions_init"]
        gm = GaussianMixture(n_components=k, covariance_type=cov, tol=1e-6, max_iter=200, reg_covar=1e-6,
                             weights_init=weights_init, means_init=means_init, precisions_init=np.array(prec),
                             random_state=0, warm_start=True)
        gm.fit(x)
        gm.fit(more)
        out["warm_start"][cov] = {"weights": gm.weights_.tolist(), "means": gm.means_.tolist(),
                                  "covariances": gm.covariances_.tolist(), "n_iter": int(gm.n_iter_),
                                  "lower_bound": float(gm.lower_bound_)}
    json.dump(out, sys.stdout, indent=None)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
