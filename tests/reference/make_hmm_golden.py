#!/usr/bin/python3
"""Golden values for tests/hmm_test.cpp, computed by pomegranate 0.14.8 (Debian python3-pomegranate), the W2b peer.

Data: 60 sequences (lengths 5..24) of symbols 0..5 drawn with numpy RandomState(7) from a 3-state HMM; initial
parameters drawn with RandomState(11). pomegranate fits 5 Baum-Welch iterations from those parameters (no
pseudocounts, no end state); its history gives LL(theta1..theta5) and log_probability gives LL(theta0). The
Viterbi path and the posteriors of the first three sequences under theta0 are recorded too.
Run: /usr/bin/python3 tests/reference/make_hmm_golden.py > tests/reference/hmm_golden.json
"""
import json

import numpy as np
from pomegranate import DiscreteDistribution, HiddenMarkovModel

K, V = 3, 6
rs = np.random.RandomState(7)
true_pi = np.array([0.6, 0.3, 0.1])
true_A = np.array([[0.8, 0.15, 0.05], [0.1, 0.7, 0.2], [0.2, 0.2, 0.6]])
true_B = np.array([[0.5, 0.3, 0.1, 0.05, 0.03, 0.02],
                   [0.05, 0.1, 0.5, 0.3, 0.03, 0.02],
                   [0.02, 0.03, 0.05, 0.1, 0.3, 0.5]])
seqs = []
for _ in range(60):
    n = rs.randint(5, 25)
    z = rs.choice(K, p=true_pi)
    s = []
    for t in range(n):
        if t:
            z = rs.choice(K, p=true_A[z])
        s.append(int(rs.choice(V, p=true_B[z])))
    seqs.append(s)
ri = np.random.RandomState(11)
pi = np.full(K, 1.0 / K)
A = 1.0 + ri.rand(K, K)
A /= A.sum(1, keepdims=True)
B = 1.0 + ri.rand(K, V)
B /= B.sum(1, keepdims=True)


def build():
    dists = [DiscreteDistribution({v: float(B[k, v]) for v in range(V)}) for k in range(K)]
    return HiddenMarkovModel.from_matrix(A, dists, pi)


m0 = build()
m0.bake()
ll0 = float(sum(m0.log_probability(s) for s in seqs))
viterbi = []
posteriors = []
for s in seqs[:3]:
    logp, path = m0.viterbi(s)
    viterbi.append({"log_prob": float(logp), "states": [st.name for _, st in path if st.name.startswith("s")]})
    posteriors.append(m0.predict_proba(s).tolist())
# state names s0, s1, s2 map to indices in from_matrix order
names = [st.name for st in m0.states[:K]]
for v in viterbi:
    v["states"] = [names.index(n) for n in v["states"]]
m = build()
m, hist = m.fit(seqs, algorithm="baum-welch", min_iterations=5, max_iterations=5, verbose=False,
                return_history=True)
print(json.dumps({"sequences": seqs, "startprob": pi.tolist(), "transmat": A.tolist(), "emissionprob": B.tolist(),
                  "loglik_per_iter": [ll0] + [float(x) for x in hist.log_probabilities],
                  "viterbi_first3": viterbi, "posteriors_first3": posteriors}, indent=1))
