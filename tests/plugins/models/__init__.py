"""Tests of the model plugins: nets against their authors' code, cards, baselines, pretrained starts."""
