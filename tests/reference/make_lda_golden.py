#!/usr/bin/python3
"""Golden values for tests/lda_test.cpp, computed by gensim 4.2 (Debian python3-gensim), the W3 peer.

Corpus: 40 documents of 30-80 words over a 30-word vocabulary drawn with numpy RandomState(5) from 3 planted
topics (each topic puts 90 % of its mass on its own 10 words); 8 more documents held out. Initial topic
statistics: RandomState(9).gamma(100, 1/100, (3, 30)). gensim runs in float64 with its per-document random starts
replaced by ones (genforge's doc_init=ones), 4 passes, chunk = whole corpus, symmetric alpha = eta = 1/3, and
alpha='auto' for a second model. Recorded: lambda after fitting, the held-out per-word bound (log_perplexity) and
the document topic mixtures of the held-out documents; a third model updates online every 12 documents. Then each
model's LdaModel.update on 30 more documents leaning to topic 0: lambda, alpha and the counts it keeps.
Run: /usr/bin/python3 tests/reference/make_lda_golden.py > tests/reference/lda_golden.json
"""
import json

import numpy as np
from gensim.models import LdaModel

K, V = 3, 30
rs = np.random.RandomState(5)
topics = np.full((K, V), 0.1 / (V - 10))
for k in range(K):
    topics[k, k * 10:(k + 1) * 10] = 0.9 / 10
docs = []
for _ in range(48):
    theta = rs.dirichlet([0.3] * K)
    n = rs.randint(30, 81)
    z = rs.choice(K, size=n, p=theta)
    docs.append([int(rs.choice(V, p=topics[t])) for t in z])
train, test = docs[:40], docs[40:]
# 30 more documents leaning to topic 0, for LdaModel.update after the fit (drawn after the others: they change none).
more = []
for _ in range(30):
    theta = rs.dirichlet([2.0, 0.3, 0.3])
    n = rs.randint(30, 81)
    z = rs.choice(K, size=n, p=theta)
    more.append([int(rs.choice(V, p=topics[t])) for t in z])
sstats0 = np.random.RandomState(9).gamma(100., 1. / 100., (K, V))


def bow(d):
    ids, cnt = np.unique(d, return_counts=True)
    return list(zip(ids.tolist(), cnt.tolist()))


class Ones:
    """Stands in for gensim's RandomState: constant document starts (gamma = 1)."""

    def gamma(self, shape, scale, size):
        return np.ones(size)


def fit(alpha, chunksize=2000):
    lda = LdaModel(id2word={i: str(i) for i in range(V)}, num_topics=K, passes=4, iterations=50, alpha=alpha,
                   eval_every=None, dtype=np.float64, random_state=0, chunksize=chunksize)
    lda.random_state = Ones()
    lda.state.sstats[...] = sstats0
    lda.expElogbeta = np.exp(lda.state.get_Elogbeta() * 0 + __import__("gensim").matutils.dirichlet_expectation(sstats0))
    lda.update([bow(d) for d in train], passes=4)
    gamma, _ = lda.inference([bow(d) for d in test])
    out = {"lambda": lda.state.get_lambda().tolist(), "alpha": np.asarray(lda.alpha).tolist(),
           "heldout_per_word_bound": float(lda.log_perplexity([bow(d) for d in test])),
           "heldout_doc_topics": (gamma / gamma.sum(1, keepdims=True)).tolist()}
    lda.update([bow(d) for d in more])  # the model's passes and chunksize; numdocs and num_updates carry over
    out["updated"] = {"lambda": lda.state.get_lambda().tolist(), "alpha": np.asarray(lda.alpha).tolist(),
                      "numdocs": int(lda.state.numdocs), "num_updates": int(lda.num_updates)}
    return out


print(json.dumps({"train": train, "test": test, "more": more, "sstats0": sstats0.tolist(), "symmetric": fit("symmetric"),
                  "auto": fit("auto"), "online_chunks_of_12": fit("symmetric", chunksize=12)}, indent=1))
