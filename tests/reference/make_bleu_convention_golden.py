#!/usr/bin/python3
"""Golden values of BLEU under nltk's counting (corpus_bleu: a segment shorter than n adds max(1, 0) = 1 to the
order-n denominator) for the test BleuConvention.NltkCountsShortSegments. Debian python3-nltk 3.8:
    /usr/bin/python3 tests/reference/make_bleu_convention_golden.py > tests/reference/bleu_convention_golden.json
Tokens are whitespace splits; the text has no punctuation, so sacreBLEU's 13a tokenizer splits it the same way.
sacreBLEU's smoothing exp / floor / add-k / none are nltk's SmoothingFunction method3 / method1 / method2 / method0."""
import json
from nltk.translate.bleu_score import corpus_bleu, SmoothingFunction

hypotheses = ["the cat sat on the mat", "a dog", "it is raining today in the city"]
references = ["the cat is on the mat", "a big dog", "it rains today in the city"]
smoothing = {"none": 0, "floor": 1, "add-k": 2, "exp": 3}
out = {"hypotheses": hypotheses, "references": references, "nltk": {}}
for name, method in smoothing.items():
    f = getattr(SmoothingFunction(), "method%d" % method)
    out["nltk"][name] = 100 * corpus_bleu([[r.split()] for r in references], [h.split() for h in hypotheses],
                                          smoothing_function=f)
print(json.dumps(out, indent=1))
