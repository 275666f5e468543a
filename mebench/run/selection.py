"""Model-selection rules: which epoch's model of a fold is scored.

- ``fixed`` (default): the model after the fixed epoch budget. Nothing about the test fold is used.
- ``inner-val``: early stopping on a validation split carved from the fold's training subjects
  (subject-disjoint, seeded by the fold); the model of the epoch with the lowest validation loss is
  scored; training stops after ``PATIENCE`` epochs without improvement. The fold's normalisation
  statistics come from the remaining training samples only.
- ``test-oracle``: the epoch with the best accuracy on the test fold itself — what many published
  MER figures did. It is LEAKY: never a default, marked in the run id and every table. Its fold
  records keep every epoch's test predictions, so one run gives both the fixed-budget figure
  (the last epoch) and the oracle figure, and the inflation between them can be measured.
  Epochs of equal best score: the earliest is taken, so the choice does not move when training goes on
  without improving (a longer budget changes it only by a strictly better epoch). Published code may
  differ: HTNet's ``main_HTNet.py`` keeps the latest (``<=``); equal accuracy can still mean different
  predictions, hence a different pooled UF1.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import GroupShuffleSplit

from mebench.errors import OptionError
from mebench.folds import Fold
from mebench.records import FoldRecord, Prediction
from mebench.tasks import SINGLE_LABEL, TaskKind
from mebench.run.training import TrainSettings, normalise, predict

PATIENCE = 10
VALIDATION_FRACTION = 0.2


def inner_validation_split(fold: Fold, subjects: np.ndarray, seed: int) -> tuple[Fold, np.ndarray]:
    """The fold with a fifth of its training subjects (at least one) moved to a validation set."""
    train_subjects = subjects[fold.train]
    if len(np.unique(train_subjects)) < 2:
        raise OptionError(f"fold {fold.index} ({fold.name}): --selection inner-val needs at least 2 training "
                          f"subjects to carve a validation split; use --selection fixed")
    n_val = max(1, int(round(VALIDATION_FRACTION * len(np.unique(train_subjects)))))
    splitter = GroupShuffleSplit(n_splits=1, test_size=n_val, random_state=seed)
    inner, val = next(splitter.split(fold.train, groups=train_subjects))
    inner_train, validation = np.sort(fold.train[inner]), np.sort(fold.train[val])
    assert not set(subjects[inner_train]) & set(subjects[validation]), "validation subjects also train"
    return Fold(fold.index, fold.name, inner_train, fold.test), validation


class EpochSelector:
    """Called after every training epoch with the model; says whether to stop, and at the end
    hands back the model to score (and what the record should keep)."""

    def __init__(self, selection: str, fold: Fold, x: torch.Tensor, y: torch.Tensor, settings: TrainSettings,
                 validation: np.ndarray | None = None, patience: int = PATIENCE):
        self.selection, self.fold, self.x, self.y, self.settings = selection, fold, x, y, settings
        self.validation, self.patience = validation, patience
        self.epoch_test_probabilities: list[np.ndarray] = []
        self.validation_losses: list[float] = []
        self.best_epoch, self.best_loss, self.best_state = -1, float("inf"), None

    @torch.no_grad()
    def _validation_loss(self, model: torch.nn.Module) -> float:
        model.eval()
        index = torch.as_tensor(self.validation, device=self.settings.device)
        total = 0.0
        for batch in index.split(max(self.settings.batch_size, 64)):
            with self.settings.autocast():
                logits = model(normalise(self.x[batch], model, self.settings))
            total += float(self.settings.kind.loss(logits.float(), self.y[batch], reduction="sum"))
        return total / len(index)

    def after_epoch(self, epoch: int, model: torch.nn.Module) -> bool:
        if self.selection == "test-oracle":
            self.epoch_test_probabilities.append(predict(model, self.x, self.fold.test, self.settings))
            model.train()
            return False
        if self.selection == "inner-val":
            loss = self._validation_loss(model)
            model.train()
            self.validation_losses.append(loss)
            if loss < self.best_loss:
                self.best_epoch, self.best_loss = epoch, loss
                self.best_state = copy.deepcopy(model.state_dict())
            return epoch - self.best_epoch >= self.patience
        return False

    def finish(self, model: torch.nn.Module) -> tuple[torch.nn.Module, dict]:
        """The model to score and the record fields this rule adds."""
        if self.selection == "inner-val":
            model.load_state_dict(self.best_state)
            return model, {"selection": "inner-val", "selected_epoch": self.best_epoch,
                           "validation_losses": self.validation_losses, "n_validation": int(len(self.validation)),
                           "patience": self.patience}
        if self.selection == "test-oracle":
            return model, {"selection": "test-oracle", "epoch_test_probabilities":
                           [p.tolist() for p in self.epoch_test_probabilities]}
        return model, {}


def oracle_records(records: dict[int, FoldRecord], true_labels: dict[str, Any], kind: TaskKind = SINGLE_LABEL
                   ) -> dict[int, FoldRecord]:
    """Each fold's record with the predictions of its best test epoch by the task kind's
    ``epoch_scores`` — best accuracy, or macro-F1 for a multi-label task (the LEAKY rule); ties go to the
    earliest epoch (see the module's docstring)."""
    chosen = {}
    for index, record in records.items():
        ids = [p.sample_id for p in record.predictions]
        truth = np.array([true_labels[i] for i in ids])
        epochs = np.asarray(record.extras["epoch_test_probabilities"])  # (epochs, n_test, classes)
        accuracy = kind.epoch_scores(epochs, truth)
        best = int(np.argmax(accuracy))
        predictions = [Prediction(i, epochs[best, k].tolist()) for k, i in enumerate(ids)]
        chosen[index] = replace(record, predictions=predictions, extras={**record.extras, "selected_epoch": best})
    return chosen


def selection_for(plan_selection: str, fold: Fold, subjects: np.ndarray, settings: TrainSettings,
                  x: torch.Tensor, y: torch.Tensor) -> tuple[Fold, EpochSelector | None]:
    """The fold to train (inner-val: without its validation subjects) and its epoch selector."""
    if plan_selection == "fixed":
        return fold, None
    validation = None
    if plan_selection == "inner-val":
        fold, validation = inner_validation_split(fold, subjects, settings.fold_seed(fold.index))
    return fold, EpochSelector(plan_selection, fold, x, y, settings, validation)


__all__ = ["EpochSelector", "inner_validation_split", "oracle_records", "selection_for", "PATIENCE"]
