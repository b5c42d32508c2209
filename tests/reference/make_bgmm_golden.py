#!/usr/bin/python3
"""Golden values for tests/bgmm_test.cpp, made with scikit-learn 1.2 and scipy 1.10 (Debian packages).

Run:  /usr/bin/python3 tests/reference/make_bgmm_golden.py > tests/reference/bgmm_golden.json

Data: the 3-cluster 3-D set of make_gmm_golden.py (360 rows, 20 test rows). Every fit uses K=5 components and
starts from the same explicit responsibilities (one-hot, nearest of 5 fixed points), injected into scikit-learn's
BayesianGaussianMixture in place of its k-means, so the result does not depend on random numbers. Fits: each
covariance type with each weight prior at scikit-learn's default priors, plus one fit with every prior given.
Recorded: posterior parameters, n_iter_, converged_, lower_bound_, score_samples and predict_proba on the test
rows, and the log posterior predictive density of the test rows: a mixture of multivariate Student-t densities
evaluated with scipy.stats.multivariate_t (weights_, dof nu+1-D, scale (1+beta) nu / ((nu+1-D) beta) * cov).
Then warm_start: the first fit continued on 200 transformed rows (`more`), as genforge's update does.
"""
import json
import sys

import numpy as np
import scipy
import sklearn
from scipy.special import logsumexp
from scipy.stats import multivariate_t
from sklearn.mixture import BayesianGaussianMixture

from make_gmm_golden import data  # the same 3-cluster data set


def full_cov(bg, d):
    c = bg.covariances_
    k = bg.n_components
    if bg.covariance_type == "full":
        return c
    if bg.covariance_type == "tied":
        return np.repeat(c[None], k, 0)
    if bg.covariance_type == "diag":
        return np.stack([np.diag(v) for v in c])
    return np.stack([np.eye(d) * v for v in c])


def predictive_log_density(bg, x):
    d = x.shape[1]
    nu = np.broadcast_to(bg.degrees_of_freedom_, (bg.n_components,))
    beta = bg.mean_precision_
    dof = nu + 1 - d
    scale = (1 + beta) * nu / (dof * beta)
    cov = full_cov(bg, d)
    parts = [np.log(bg.weights_[k]) + multivariate_t(loc=bg.means_[k], shape=scale[k] * cov[k], df=dof[k]).logpdf(x)
             for k in range(bg.n_components)]
    return logsumexp(np.stack(parts, 1), axis=1)


def main():
    x, test = data()
    k = 5
    points = np.array([[0.0, 0.0, 0.0], [5.0, 5.0, 0.0], [0.0, 6.0, 4.0], [2.0, 3.0, 2.0], [4.0, 0.0, 1.0]])
    labels = ((x[:, None, :] - points[None]) ** 2).sum(-1).argmin(1)
    resp = np.eye(k)[labels]
    out = {"sklearn_version": sklearn.__version__, "scipy_version": scipy.__version__, "x": x.tolist(),
           "test": test.tolist(), "resp_init": resp.tolist(), "fits": []}
    runs = [dict(covariance_type=c, weight_concentration_prior_type=p)
            for c in ("full", "tied", "diag", "spherical") for p in ("dirichlet_process", "dirichlet_distribution")]
    runs.append(dict(covariance_type="full", weight_concentration_prior_type="dirichlet_process",
                     weight_concentration_prior=0.01, mean_precision_prior=0.5, degrees_of_freedom_prior=5.0,
                     mean_prior=[1.0, 2.0, 1.0], covariance_prior=[[2.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 1.5]]))
    for params in runs:
        bg = BayesianGaussianMixture(n_components=k, tol=1e-8, max_iter=500, reg_covar=1e-6, random_state=0,
                                     **{key: (np.array(v) if isinstance(v, list) else v) for key, v in params.items()})
        bg._initialize_parameters = lambda X, random_state, bg=bg: bg._initialize(X, resp)
        bg.fit(x)
        wc = bg.weight_concentration_
        wc = np.stack(wc) if isinstance(wc, tuple) else wc
        out["fits"].append({
            "params": params,
            "weight_concentration": wc.tolist(), "mean_precision": bg.mean_precision_.tolist(),
            "means": bg.means_.tolist(),
            "degrees_of_freedom": np.broadcast_to(bg.degrees_of_freedom_, (k,)).tolist(),
            "covariances": bg.covariances_.tolist(), "weights": bg.weights_.tolist(),
            "n_iter": int(bg.n_iter_), "converged": bool(bg.converged_), "lower_bound": float(bg.lower_bound_),
            "score_samples_test": bg.score_samples(test).tolist(),
            "predict_proba_test": bg.predict_proba(test).tolist(),
            "predictive_log_density_test": predictive_log_density(bg, test).tolist(),
        })
    # warm_start: the first fit continued on 200 transformed rows (genforge's update / finetune).
    more = x[:200] * 1.1 + 0.5
    out["more"] = more.tolist()
    bg = BayesianGaussianMixture(n_components=k, tol=1e-8, max_iter=500, reg_covar=1e-6, random_state=0,
                                 warm_start=True, **runs[0])
    bg._initialize_parameters = lambda X, random_state, bg=bg: bg._initialize(X, resp)
    bg.fit(x)
    bg.fit(more)
    out["warm_start"] = {"params": runs[0], "weights": bg.weights_.tolist(), "means": bg.means_.tolist(),
                         "covariances": bg.covariances_.tolist(), "mean_precision": bg.mean_precision_.tolist(),
                         "n_iter": int(bg.n_iter_), "lower_bound": float(bg.lower_bound_)}
    json.dump(out, sys.stdout, indent=None)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
