"""Models that are fitted, not trained by gradient descent: scikit-learn-style estimators.

A model factory may return, instead of an ``nn.Module``, an object with ``fit(X, y)`` and
``predict_proba(X)`` (an SVM over LBP-TOP histograms, say). Its features come from the preprocessing
chain as the model input: a feature step ends the chain with ``item["image"]`` of shape (1, 1, D) and
the model declares ``InputSpec(channels=D, height=1, width=1)``, so preparation and the cache are
the same as for a net. One fold is fitted once on the fold's training samples (flattened, no
normalisation: the estimator does its own) and predicts the fold's test samples; every
``random_state`` parameter is set to the fold's seed, so a fit is seeded and deterministic.

``predict_proba`` returns one column per class of the task, in label order; an estimator whose
training fold lacked a class may return only the columns of its ``classes_`` (scikit-learn's way),
which are then put in their places. What "parameters" means for a fitted estimator is its own
``n_parameters_`` (e.g. the numbers its decision function holds); one that defines none counts 0.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch


def is_estimator(model: Any) -> bool:
    """Whether ``model`` is a fitted-not-trained estimator rather than a net."""
    return (not isinstance(model, torch.nn.Module) and callable(getattr(model, "fit", None))
            and callable(getattr(model, "predict_proba", None)))


def is_spotter(model: Any) -> bool:
    """Whether ``model`` is a spotter (``mebench.run.learners.SPOTTER``): ``spot_video(video) -> [(onset, offset,
    type), …]`` (inclusive frame numbers of the video, type one of the task's types), and optionally
    ``fit(videos)`` (a net may be one)."""
    return callable(getattr(model, "spot_video", None))


def builds_estimator(build: Callable[[], Any]) -> bool:
    """Whether ``build()`` makes an estimator, found without building a net for real (on the meta
    device); a factory that cannot build on the meta device makes a net."""
    try:
        with torch.device("meta"):
            return is_estimator(build())
    except Exception:
        return False


def features(x: torch.Tensor, index: Sequence[int] | np.ndarray) -> np.ndarray:
    """The samples ``index`` of the model inputs as rows of a float64 feature matrix."""
    rows = x[torch.as_tensor(np.asarray(index), device=x.device)]
    return rows.reshape(len(rows), -1).double().cpu().numpy()


def seeded(estimator: Any, seed: int) -> Any:
    """``estimator`` with every ``random_state`` parameter (its own and its parts') set to ``seed``."""
    if hasattr(estimator, "get_params") and hasattr(estimator, "set_params"):
        names = [name for name in estimator.get_params() if name == "random_state" or name.endswith("__random_state")]
        estimator.set_params(**{name: seed for name in names})
    return estimator


def fit_estimator(build: Callable[[], Any], x: torch.Tensor, y: torch.Tensor, train: np.ndarray, seed: int) -> Any:
    """A fresh estimator fitted on the samples ``train``, seeded with ``seed``."""
    estimator = seeded(build(), seed)
    return estimator.fit(features(x, train), y[torch.as_tensor(np.asarray(train), device=y.device)].cpu().numpy())


def predict_probabilities(estimator: Any, x: torch.Tensor, index: np.ndarray, n_classes: int) -> np.ndarray:
    """Class probabilities (len(index), n_classes) as float64, columns in label order."""
    probabilities = np.asarray(estimator.predict_proba(features(x, index)), dtype=np.float64)
    if probabilities.shape[1] == n_classes:
        return probabilities
    classes = np.asarray(getattr(estimator, "classes_", []), dtype=int)
    if len(classes) != probabilities.shape[1]:
        raise ValueError(f"predict_proba gave {probabilities.shape[1]} columns for {n_classes} classes and the "
                         f"estimator names no classes_ to place them")
    placed = np.zeros((len(probabilities), n_classes))
    placed[:, classes] = probabilities
    return placed


def count_parameters(estimator: Any) -> int:
    """A fitted estimator's ``n_parameters_`` (what its model card says it counts), else 0."""
    return int(getattr(estimator, "n_parameters_", 0) or 0)


class Predictor:
    """A fitted estimator as ``mebench.timing.inference_throughput`` times a net: ``eval()`` and a call
    on a batch of model inputs (``predict_proba`` on the flattened batch)."""

    def __init__(self, estimator: Any):
        self.model = estimator

    def eval(self) -> "Predictor":
        return self

    def __call__(self, batch: torch.Tensor) -> np.ndarray:
        return self.model.predict_proba(batch.reshape(len(batch), -1).double().cpu().numpy())
