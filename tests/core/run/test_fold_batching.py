"""Fold-batched training must give the same models as training the folds one after another."""

import numpy as np
import torch

from mebench.folds import loso_folds
from mebench.run.fold_batching import fold_batching_obstacle, train_folds_batched
from mebench.run.training import TrainSettings, predict, train_fold
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


class DropoutTinyNet(TinyNet):
    """TinyNet with dropout before its head: training draws random masks every step."""

    def __init__(self, num_classes, input_spec, p=0.5):
        super().__init__(num_classes, input_spec)
        self.dropout = torch.nn.Dropout(p)

    def forward(self, x):
        return self.head(self.dropout(torch.flatten(self.features(x), 1)))


def _dropout_problem():
    generator = torch.Generator().manual_seed(1)
    subjects = ["d/a"] * 8 + ["d/b"] * 5 + ["d/c"] * 11 + ["d/d"] * 6
    x = torch.randn(len(subjects), TINY_INPUT.channels, TINY_INPUT.height, TINY_INPUT.width, generator=generator)
    y = torch.randint(0, 3, (len(subjects),), generator=generator)
    return x, y, loso_folds(subjects), TrainSettings(epochs=3, batch_size=6, lr=1e-2, seed=11)


def test_fold_batching_draws_the_same_dropout_masks_as_sequential_training():
    x, y, folds, settings = _dropout_problem()
    build = lambda: DropoutTinyNet(3, TINY_INPUT)  # noqa: E731
    sequential_losses, batched_losses = {}, {}
    sequential = []
    for fold in folds:
        losses = sequential_losses.setdefault(fold.index, [])
        record = lambda epoch, loss, losses=losses: losses.append(loss)  # noqa: E731
        sequential.append(train_fold(build, x, y, fold, settings, record))
    batched = train_folds_batched(
        build, x, y, folds, settings,
        on_fold_epoch=lambda fold, epoch, loss: batched_losses.setdefault(fold.index, []).append(loss))
    for fold, a, b in zip(folds, sequential, batched):
        for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
            assert torch.allclose(pa, pb, atol=1e-5), f"fold {fold.index} parameter {name} differs"
        np.testing.assert_allclose(predict(a, x, fold.test, settings), predict(b, x, fold.test, settings), atol=1e-5)
        np.testing.assert_allclose(sequential_losses[fold.index], batched_losses[fold.index], rtol=1e-5)
    # the masks mattered: without dropout the same seeds train different models
    no_dropout = train_fold(lambda: DropoutTinyNet(3, TINY_INPUT, p=0.0), x, y, folds[0], settings)
    assert not torch.allclose(no_dropout.head.weight, sequential[0].head.weight, atol=1e-3)


def test_a_model_with_other_randomness_is_trained_fold_after_fold_with_a_log_line():
    x, y, folds, settings = _dropout_problem()

    class ChannelDropoutNet(TinyNet):
        def __init__(self, num_classes, input_spec):
            super().__init__(num_classes, input_spec)
            self.features.insert(3, torch.nn.Dropout2d(0.3))  # draws from the global stream: not batchable

    build = lambda: ChannelDropoutNet(3, TINY_INPUT)  # noqa: E731
    assert "outside nn.Dropout" in fold_batching_obstacle(build, x)
    assert fold_batching_obstacle(lambda: DropoutTinyNet(3, TINY_INPUT), x) is None
    lines = []
    batched = train_folds_batched(build, x, y, folds[:2], settings, log=lines.append)
    assert len(lines) == 1 and "one after another" in lines[0] and "Dropout2d" in lines[0]
    sequential = train_fold(build, x, y, folds[1], settings)
    assert torch.equal(sequential.head.weight, batched[1].head.weight)
