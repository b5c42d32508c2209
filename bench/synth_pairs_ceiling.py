#!/usr/bin/python3
# What a single latent Gaussian can do for birdstrikes' high-cardinality category pairs (issue 20, the copula's
# 0.811 quality): SDMetrics' ContingencySimilarity (1 - total variation distance of the pair's joint frequencies)
# of the five weak pairs for
#   independent draws of each column (the floor), a bootstrap resample of the real rows (what a perfect model's
#   10,000-row sample scores: the ceiling), and a prototype Gaussian *mixture* copula -- normal scores of frequency
#   intervals (categories) and ranks (numbers), a K-component full-covariance mixture fitted to them (scikit-learn),
#   samples mapped back through each column's mixture marginal CDF -- for K = 1, 5, 20, 50; and a single Gaussian
#   with the categories' frequency intervals ordered by the first dimension of a multiple correspondence analysis
#   (homogeneity analysis) of the four high-cardinality columns instead of by frequency.
# Usage: bench/synth_pairs_ceiling.py [BIRDSTRIKES.csv]   (numpy, scipy, scikit-learn: make bench installs them)
import collections, csv, sys
import numpy as np
from scipy.stats import norm
from sklearn.mixture import GaussianMixture

path = sys.argv[1] if len(sys.argv) > 1 else "data/vega-datasets/data/birdstrikes.csv"
rows = list(csv.DictReader(open(path)))
data = {k: [r[k] for r in rows] for k in rows[0]}
n = len(rows)
rng = np.random.default_rng(0)
cats = ["Airport Name", "Aircraft Make Model", "Aircraft Airline Operator", "Origin State", "Wildlife Size",
        "Wildlife Species", "Effect Amount of damage", "Phase of flight", "Time of day"]
nums = ["Cost Other", "Cost Repair", "Cost Total $", "Speed IAS in knots"]
pairs = [("Aircraft Make Model", "Aircraft Airline Operator"), ("Airport Name", "Aircraft Airline Operator"),
         ("Airport Name", "Aircraft Make Model"), ("Aircraft Airline Operator", "Origin State"),
         ("Aircraft Make Model", "Origin State")]


def similarity(a, b, sa, sb):
    real, syn = collections.Counter(zip(a, b)), collections.Counter(zip(sa, sb))
    return 1 - 0.5 * sum(abs(real[k] / len(a) - syn[k] / len(sa)) for k in set(real) | set(syn))


def report(name, synthetic):
    s = [similarity(data[a], data[b], synthetic[a], synthetic[b]) for a, b in pairs]
    print(f"{name:<22}" + " ".join(f"{v:.3f}" for v in s) + f"   mean {np.mean(s):.3f}", flush=True)


print("pairs: " + "; ".join(f"{a} x {b}" for a, b in pairs))
report("independent columns", {c: list(rng.permutation(data[c])) for c in cats})
pick = rng.integers(0, n, n)
report("bootstrap of the rows", {c: [data[c][i] for i in pick] for c in cats})

cols = cats + nums
z = np.zeros((n, len(cols)))
back = []
for j, c in enumerate(cols):
    if c in cats:
        count = collections.Counter(data[c])
        order = [k for k, _ in count.most_common()]
        width = np.array([count[k] for k in order]) / n
        start = np.concatenate([[0], np.cumsum(width)[:-1]])
        index = np.array([order.index(v) for v in data[c]])
        u = start[index] + width[index] * rng.uniform(size=n)
        back.append((order, start))
    else:
        x = np.array([float(v) if v not in ("", "NA", "null") else np.nan for v in data[c]])
        x = np.where(np.isnan(x), np.nanmedian(x), x)
        u = (np.argsort(np.argsort(x, kind="stable")) + 0.5) / n
        back.append(None)
    z[:, j] = norm.ppf(np.clip(u, 1e-6, 1 - 1e-6))
for k in (1, 5, 20, 50):
    g = GaussianMixture(k, covariance_type="full", random_state=0, reg_covar=1e-4).fit(z)
    s, _ = g.sample(n)
    synthetic = {}
    for j, c in enumerate(cats):
        sd = np.sqrt(g.covariances_[:, j, j])
        u = (g.weights_[None, :] * norm.cdf((s[:, j:j + 1] - g.means_[None, :, j]) / sd[None, :])).sum(1)
        order, start = back[j]
        synthetic[c] = [order[i] for i in np.clip(np.searchsorted(start, u, side="right") - 1, 0, len(order) - 1)]
    report(f"latent mixture K={k}", synthetic)


# Frequency intervals in the order of the first MCA dimension (alternating: row scores = mean of their categories'
# quantifications, quantifications = mean row score of their rows) for the four high-cardinality columns.
big = ["Airport Name", "Aircraft Make Model", "Aircraft Airline Operator", "Origin State"]
codes = {c: np.unique(data[c], return_inverse=True) for c in big}
x = rng.standard_normal(n)
for _ in range(200):
    quant = {c: np.bincount(codes[c][1], weights=x) / np.bincount(codes[c][1]) for c in big}
    x = sum(quant[c][codes[c][1]] for c in big) / len(big)
    x = (x - x.mean()) / x.std()
z_mca, back_mca = np.zeros((n, len(cols))), []
for j, c in enumerate(cols):
    if c in big:
        count = collections.Counter(data[c])
        order = [codes[c][0][i] for i in np.argsort(quant[c])]
        width = np.array([count[k] for k in order]) / n
        start = np.concatenate([[0], np.cumsum(width)[:-1]])
        position = {k: i for i, k in enumerate(order)}
        index = np.array([position[v] for v in data[c]])
        u = start[index] + width[index] * rng.uniform(size=n)
        z_mca[:, j] = norm.ppf(np.clip(u, 1e-6, 1 - 1e-6))
        back_mca.append((order, start))
    else:
        z_mca[:, j] = z[:, j]
        back_mca.append(back[j])
s = rng.multivariate_normal(np.zeros(len(cols)), np.corrcoef(z_mca.T), size=n)
synthetic = {}
for j, c in enumerate(cats):
    order, start = back_mca[j]
    synthetic[c] = [order[i] for i in np.clip(np.searchsorted(start, norm.cdf(s[:, j]), side="right") - 1, 0, len(order) - 1)]
report("MCA-ordered Gaussian", synthetic)
