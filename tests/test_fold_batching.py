"""Fold-batched training must give the same models as training the folds one after another."""

import numpy as np
import torch

from mebench.folds import loso_folds
from mebench.training import TrainSettings, predict, train_fold, train_folds_batched
from tests.conftest import TINY_INPUT, TinyNet


def test_fold_batched_and_sequential_training_give_the_same_predictions():
    generator = torch.Generator().manual_seed(0)
    # unequal subject sizes: folds have different numbers of batches and different last-batch sizes
    subjects = ["d/a"] * 7 + ["d/b"] * 5 + ["d/c"] * 9 + ["d/d"] * 4
    x = torch.randn(len(subjects), TINY_INPUT.channels, TINY_INPUT.height, TINY_INPUT.width, generator=generator)
    y = torch.randint(0, 3, (len(subjects),), generator=generator)
    folds = loso_folds(subjects)
    settings = TrainSettings(epochs=3, batch_size=6, lr=1e-2, seed=7)
    build = lambda: TinyNet(3, TINY_INPUT)  # noqa: E731  (has batch normalisation)

    sequential = [train_fold(build, x, y, fold, settings) for fold in folds]
    batched = train_folds_batched(build, x, y, folds, settings)
    for fold, a, b in zip(folds, sequential, batched):
        for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
            assert torch.allclose(pa, pb, atol=1e-5), f"fold {fold.index} parameter {name} differs"
        assert torch.allclose(a.features[1].running_var, b.features[1].running_var, atol=1e-5)
        np.testing.assert_allclose(predict(a, x, fold.test, settings), predict(b, x, fold.test, settings), atol=1e-5)
    # training did something: the folds' models differ from one another and from their initial state
    torch.manual_seed(settings.fold_seed(0))
    untrained = build()
    assert not torch.allclose(untrained.head.weight, batched[0].head.weight)
    assert not torch.allclose(batched[0].head.weight, batched[1].head.weight)
