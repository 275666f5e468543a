"""Hand-crafted baselines: a linear SVM over LBP-TOP (the official MEGC2019 baseline) and over Bi-WOOF.

These models are fitted, not trained (``mebench.estimators``): the chain ends with the feature vector
as a (1, 1, D) image (``plugins/preprocessors/features.py``) and the factory returns a
scikit-learn-style estimator. The SVM is libsvm's (scikit-learn ``SVC``) with a linear kernel,
one-vs-one over the classes, as the hand-crafted MER baselines use it; its prediction is libsvm's vote.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from mebench import hookimpl
from mebench.data import CodeLocation, Fidelity, InputSpec, ModelCard, ModelSpec, Reference, ReportedFigures
from mebench.options import Option
from mebench_plugins.preprocessors.chains import BI_WOOF, GREY_SEQUENCE_TEXT, LBP_TOP_TIM10, ONSET_APEX_TEXT
from mebench_plugins.preprocessors.features import lbp_top_length


class LinearSVM(ClassifierMixin, BaseEstimator):
    """A linear-kernel SVM (libsvm, one-vs-one) with ``predict_proba`` giving one column per class of the
    task: a softmax of libsvm's one-vs-rest-shaped decision values (its votes plus its confidence
    tie-break), whose arg-max is the SVM's own prediction — scores for the harness's records, not
    calibrated probabilities. ``standardise`` scales the features with the training fold's mean and
    standard deviation first. A training fold with a single class predicts that class.

    ``n_parameters_``: the numbers the fitted decision function holds — the one-vs-one hyperplanes
    (weights and intercepts) and, when standardising, the scaler's means and scales."""

    def __init__(self, num_classes: int = 3, C: float = 1.0, standardise: bool = False, random_state=None):
        self.num_classes, self.C, self.standardise, self.random_state = num_classes, C, standardise, random_state

    def fit(self, X, y):
        X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
        self.scaler_ = StandardScaler().fit(X) if self.standardise else None
        self.classes_ = np.unique(y)
        self.svm_ = None
        if len(self.classes_) > 1:
            self.svm_ = SVC(kernel="linear", C=self.C, decision_function_shape="ovr",
                            random_state=self.random_state).fit(self._scaled(X), y)
        self.n_parameters_ = ((self.svm_.coef_.size + self.svm_.intercept_.size) if self.svm_ is not None else 0) + (
            2 * X.shape[1] if self.standardise else 0)
        return self

    def _scaled(self, X):
        return self.scaler_.transform(X) if self.scaler_ is not None else X

    def predict_proba(self, X):
        X = np.asarray(X, dtype=np.float64)
        scores = np.full((len(X), self.num_classes), -np.inf)
        if self.svm_ is None:
            scores[:, self.classes_[0]] = 0.0
        else:
            decision = self.svm_.decision_function(self._scaled(X))
            if decision.ndim == 1:  # two classes: libsvm gives one signed distance
                decision = np.stack([-decision, decision], axis=1)
            scores[:, self.classes_] = decision
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        return scores / scores.sum(axis=1, keepdims=True)

    def predict(self, X):
        return np.argmax(self.predict_proba(X), axis=1)


def linear_svm(num_classes: int, input_spec: InputSpec, C: float = 1.0, standardise: bool = False) -> LinearSVM:
    return LinearSVM(num_classes=num_classes, C=C, standardise=standardise)


OPTIONS = (Option("C", float, 1.0, "the SVM's soft-margin penalty (> 0)", minimum=1e-9),
           Option("standardise", bool, False, "scale each feature with the training fold's mean and deviation"))

LBP_TOP_D = lbp_top_length(points=4, blocks=5)  # 5·5 blocks × 3 planes × 16 codes = 1,200
BI_WOOF_D = 5 * 5 * 8
MEGC2019_DOCUMENT = ("MEGC2019 recognition challenge document (Facial-Micro-ExpressionGC/MEGC2019, images/MEGC2019 "
                     "Recognition Challenge.pdf), baseline table")
PARAMETERS_MEANING = ("not a net: 'parameters' is the fitted decision function's size, n_parameters_ — the "
                      "one-vs-one hyperplanes' weights and intercepts (3 × (D + 1) for three classes; plus 2D when "
                      "standardising) — which a run records; none before fitting")

SPECS = [
    ModelSpec(
        name="lbptop", factory=linear_svm, input_spec=InputSpec(LBP_TOP_D, 1, 1), preprocessing=LBP_TOP_TIM10,
        description="LBP-TOP + linear SVM: the official MEGC2019 baseline (TIM 10, P = 4, radii 1/1/4, 5×5 blocks)",
        family="svm_baselines", options=OPTIONS,
        card=ModelCard(
            source=Reference("See, J.; Yap, M.H.; Li, J.; Hong, X.; Wang, S.-J.",
                             "MEGC 2019 – The Second Facial Micro-Expressions Grand Challenge", "IEEE FG", 2019,
                             "https://facial-micro-expressiongc.github.io/MEGC2019/"),
            code=(CodeLocation("tvaranka/meb", "meb/utils/traditional_methods.py", "LBPTOP, tim", "f731b0a",
                               "Apache-2.0", note="read for reference only: its calculate_lbptop uses other settings "
                                                  "(P = 8, radii 3, 8×8 overlapping blocks, u2 codes, no histogram "
                                                  "normalisation); the features are Zhao & Pietikäinen's LBP-TOP "
                                                  "(IEEE TPAMI 29(6), 2007), TIM Zhou et al. (CVPR 2011)"),),
            fidelity=Fidelity.RECONSTRUCTED,
            fidelity_detail="the challenge document gives the features' settings — LBP-TOP with radii (R_XY, R_XT, "
                            "R_YT) = (1, 1, 4), P = 4 on every plane, 5×5 non-overlapping blocks, TIM to 10 frames — and "
                            "no code; we compute the reference LBP-TOP (neighbours rounded to the nearest pixel, "
                            "per-block per-plane histograms of the 16 basic codes normalised to sum 1, 1,200 values) "
                            f"and fit a linear SVM (C = 1). Parameters: {PARAMETERS_MEANING}",
            input_chain=f"{GREY_SEQUENCE_TEXT}; TIM to 10 frames; block LBP-TOP, 1,200 values, as a 1×1 image of "
                        f"1,200 channels",
            reference_parameters=None,
            reference_parameters_source="",
            identification="the document writes the radii per plane (R_XY, R_XT, R_YT = 1, 1, 4); we read them per "
                           "axis, (R_X, R_Y, R_T) = (1, 1, 4), as the reference LBP-TOP code takes them (FxRadius, "
                           "FyRadius, TInterval): the XY plane has radius 1, the XT and YT planes 1 in space and 4 in "
                           "time (--model-opt cannot change a chain; a plugin chain with lbp_top's radius options can)",
            deviations=(
                "the classifier's settings are not in the challenge document (a linear SVM is what the challenge's "
                "summary paper is usually cited for); we use libsvm's linear SVM, one-vs-one, C = 1, on the raw "
                "histograms (standardise=true scales them first)",
                "neither the face crop nor the frame size is stated; frames are cropped to the face where the copy "
                "is not cropped and resized to 128×128, and each block histogram counts the centre pixels inside "
                "it (neighbours may lie in the next block)",
                "the predicted class is libsvm's one-vs-one vote; the probabilities the run records are a softmax "
                "of its decision values, not calibrated (no Platt scaling)",
                "which LBP codes the histograms count is not in the challenge document: the 16 basic codes (2^P) are "
                "our choice; MEB's LBP-TOP (get_mapping 'u2') counts uniform-2 codes, 15 bins at P = 4, which "
                "lbp_top(codes=uniform) gives (1,125 values) for a plugin chain",
            ),
            reported=(ReportedFigures(
                source=MEGC2019_DOCUMENT, uf1=0.5882, uar=0.5785,
                per_dataset={"smic": {"uf1": 0.2000, "uar": 0.5280}, "casme2": {"uf1": 0.7026, "uar": 0.7429},
                             "samm": {"uf1": 0.3954, "uar": 0.4102}},
                note="MEGC2019 composite (442 samples), LOSO over 68 subjects, predictions pooled; the SMIC UF1 of "
                     "0.2000 beside a UAR of 0.5280 is as printed"),),
        ),
    ),
    ModelSpec(
        name="biwoof", factory=linear_svm, input_spec=InputSpec(BI_WOOF_D, 1, 1), preprocessing=BI_WOOF,
        description="Bi-WOOF + linear SVM (Liong et al. 2018): weighted flow orientation histograms, onset → apex",
        family="svm_baselines", options=OPTIONS,
        card=ModelCard(
            source=Reference("Liong, S.-T.; See, J.; Wong, K.; Phan, R.C.-W.",
                             "Less is more: Micro-expression recognition from video using apex frame",
                             "Signal Processing: Image Communication 62:82–92", 2018,
                             "https://doi.org/10.1016/j.image.2017.11.006"),
            code=(CodeLocation("christy1206/biwoof", "biwoof.m", "the script", "0b57b37", "none (all rights reserved)",
                               note="MATLAB, features only; flow, magnitude, orientation and strain precomputed"),),
            fidelity=Fidelity.ADAPTED,
            fidelity_detail="our own implementation of biwoof.m's feature (no licence; no code taken): 5×5 blocks with "
                            "the script's bounds (neighbouring blocks share their border rows), per block an 8-bin "
                            "orientation histogram with every pixel voting its flow magnitude, normalised to sum 1, "
                            "times the block's summed optical strain; 200 values, L2-normalised; a linear SVM (C = 1). "
                            f"Parameters: {PARAMETERS_MEANING}",
            input_chain=f"{ONSET_APEX_TEXT}; optical strain; Bi-WOOF, 200 values, as a 1×1 image of 200 channels",
            deviations=(
                "biwoof.m's bin edges -180:45:179 with Kovesi's weightedhistc leave orientations in (135°, 180°] out "
                "and put only exactly 135° in the eighth bin; we use eight equal bins over the circle, as the paper "
                "describes",
                "the authors compute TV-L1 flow with the IPOL implementation and precompute magnitude, orientation "
                "(its convention is not in the script) and strain; we use OpenCV's Dual TV-L1 at 128×128, atan2(v, u) "
                "in degrees and the strain tensor's magnitude",
                "SMIC has no apex annotation: its apex here is the frame of largest mean absolute difference from "
                "the onset (apex_frame's max_motion rule) — mebench's rule for every net on a clip without an "
                "annotated apex, not taken from the authors: biwoof.m starts from precomputed flow, and the paper's "
                "own account of how SMIC's apex frames were found could not be read here (the authors' apex spotting "
                "method, Liong et al., ACPR 2015, is a binary search over the sequence); SMIC figures depend on it",
                "the classifier is not in the repository (the paper: an SVM under LOSO); we use libsvm's linear SVM, "
                "one-vs-one, C = 1, on the features as they are; the probabilities the run records are a softmax of "
                "its decision values, not calibrated",
            ),
            reported=(ReportedFigures(
                source="Wang et al. 2024 (HTNet, Neurocomputing 602:128196), Table 2 (row 'Bi-WOOF')",
                uf1=0.6296, uar=0.6227,
                per_dataset={"smic": {"uf1": 0.5727, "uar": 0.5829}, "casme2": {"uf1": 0.7805, "uar": 0.8026},
                             "samm": {"uf1": 0.5211, "uar": 0.5139}},
                note="MEGC2019 composite, LOSO, as another paper's comparison table gives it (widely repeated since "
                     "the MEGC2019 papers); Bi-WOOF's own paper predates the composite"),),
        ),
    ),
]


@hookimpl
def mebench_register_models(register):
    for spec in SPECS:
        register(spec)
