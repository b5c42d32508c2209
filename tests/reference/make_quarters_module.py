"""Writes tests/reference/quarters.pt: a TorchScript feature extractor (the mean of each image quarter, 4 features)
scripted by PyTorch (Debian python3-torch 1.13), so the tests check that genforge reads modules that PyTorch wrote
without installing PyTorch for the tests.  Run: /usr/bin/python3 tests/reference/make_quarters_module.py"""
import os
import sys

import torch


class Quarters(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.adaptive_avg_pool2d(x, 2).flatten(1)


out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "quarters.pt")
torch.jit.script(Quarters()).save(out)
print("wrote", out)
