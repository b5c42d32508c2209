#!/usr/bin/python3
"""Golden values for tests/rbm_test.cpp, made with scikit-learn 1.2 (Debian python3-sklearn) and numpy.

Run:  /usr/bin/python3 tests/reference/make_rbm_golden.py > tests/reference/rbm_golden.json

A BernoulliRBM with planted parameters (numpy default_rng(3): 6 visible, 4 hidden units, weights N(0, 1.5^2),
biases N(0, 1)) and 8 binary rows. Recorded: scikit-learn's _free_energy (F(v)) and transform (p(h = 1 | v)), its
score_samples (stochastic pseudo-likelihood) with the bits it flipped (from check_random_state(0), as
score_samples draws them), the exact pseudo-log-likelihood (the numpy code of the W4 peer script), and log Z by
brute force over all 2^10 joint states.
"""
import itertools
import json

import numpy as np
import sklearn
from sklearn.neural_network import BernoulliRBM
from sklearn.utils import check_random_state


def exact_pl(W, b, c, X):
    a = X @ W.T + c
    f0 = X @ b + np.logaddexp(0, a).sum(1)
    sign = 1 - 2 * X
    a_f = a[:, None, :] + sign[:, :, None] * W.T[None, :, :]
    f1 = (X @ b)[:, None] + sign * b[None, :] + np.logaddexp(0, a_f).sum(2)
    return (f0[:, None] - np.logaddexp(f0[:, None], f1)).sum(1)


def main():
    rng = np.random.default_rng(3)
    D, H = 6, 4
    W = rng.normal(0, 1.5, (H, D))
    b = rng.normal(0, 1, D)
    c = rng.normal(0, 1, H)
    X = (rng.random((8, D)) < 0.5).astype(np.float64)
    rbm = BernoulliRBM(n_components=H, random_state=0)
    rbm.components_, rbm.intercept_visible_, rbm.intercept_hidden_ = W, b, c
    rbm.random_state_ = check_random_state(0)
    flips = check_random_state(0).randint(0, D, X.shape[0])
    score = rbm.score_samples(X)
    energies = []
    for v in itertools.product([0.0, 1.0], repeat=D):
        for h in itertools.product([0.0, 1.0], repeat=H):
            v_, h_ = np.array(v), np.array(h)
            energies.append(b @ v_ + c @ h_ + h_ @ W @ v_)
    energies = np.array(energies)
    log_z = energies.max() + np.log(np.exp(energies - energies.max()).sum())
    print(json.dumps({
        "sklearn": sklearn.__version__,
        "W": W.tolist(), "b": b.tolist(), "c": c.tolist(), "x": X.tolist(),
        "free_energy": rbm._free_energy(X).tolist(),
        "transform": rbm.transform(X).tolist(),
        "flipped_bits": flips.tolist(),
        "stochastic_pl": score.tolist(),
        "exact_pl": exact_pl(W, b, c, X).tolist(),
        "log_z": float(log_z),
    }, indent=1))


if __name__ == "__main__":
    main()
