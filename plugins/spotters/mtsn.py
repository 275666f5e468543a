"""MTSN (Liong, Liong, See & Chan, FME 2022): a multi-temporal stream network that scores every frame of a long
video from two optical flows (frames k apart and 1 apart), one output for both expression types, ported from the
authors' PyTorch code (genbing99/MTSN-Spot-ME-MaE, commit dd17fda).

As ``network.py``, ``prepare_data.py``, ``train_model.py``, ``train_main.py``, ``spot_interval.py`` and
``test_main.py`` do:

1. **Input** of frame j (j = 0 … T − k − 1): two 28 × 28 × 3 images (u, v, optical strain), one of the flow from
   frame j to frame j + k and one of the flow from frame j to frame j + 1 (the authors' ``dataset_k6`` /
   ``dataset_k37`` and ``dataset_k1``, the second cut to the first's length: ``prepare_dataset``). The authors
   publish these arrays, not the script that made them; mebench makes each image as SOFTNet's
   ``extract_preprocess`` (same authors: nose-subtracted, eyes masked, eyebrows over mouth) at 28 × 28, then
   scales each image's channels to [0, 1] (``softnet.min_max``).
2. **Net** (``network.MTSN``): one SOFTNet backbone — 5 × 5 convolutions of 3, 5 and 8 maps over u, v and
   strain, ReLU, 3 × 3 max pools (28 → 9), concatenation, 2 × 2 max pool (4 × 4 × 16), flatten (256) — applied
   with the same weights to the k-apart image and to the 1-apart image; the two 256-vectors concatenated (512),
   ``fc1`` 128 (ReLU), ``fc2`` 1, sigmoid. Xavier-uniform weights, zero biases (``init_weights``).
3. **Labels** (``pseudo_labeling``): over the videos holding an expression (``load_label``), a hard label 1 at
   every frame of onset … offset of an expression of either type (from the apex where the onset is 0 or 1), and a
   soft label rising (frame − onset) / (apex − onset) from the onset to the apex and falling
   (offset − frame) / (offset − apex) to the offset.
4. **Training** (``train``): the label-0 frames sampled down to ``ratio`` × the labelled count
   (``random.sample``), every labelled frame kept; 10 epochs of shuffled batches of 128, Adam at lr 0.00005, loss
   ``0.7 · MSE(hard) + 0.3 · MSE(hard)`` as the code has it (the soft label is computed and printed, not trained
   on: ``soft_weight`` 0; the weights' evident intent, 0.7 hard + 0.3 soft, is ``--model-opt soft_weight=0.3``).
5. **Spotting** (``spot_interval.spotting``): per type e (ME: k_micro, MaE: k_macro), the scores averaged
   ``s_e[i] = mean(score[i … i + 2k_e − 1])``; peaks of s_e above the type's threshold at least ``peak_dis_e``
   apart; each peak's interval by ``detectInterval`` (the frame within ``left_dis`` before and ``right_dis`` after
   the peak whose score differs most from the peak's while above the threshold), kept where its length lies
   strictly between ``min_e`` and ``max_e`` and the peak stands above both ends (or above 0.95); an ME kept only
   where its score exceeds the MaE curve's at the same position by ``dif_threshold`` (``checkPeak``); interval
   [start + k_e, end + k_e] of the video's frames (the authors' 1-based ``+ k + 1``).

The thresholds: the authors fix micro, macro and dif thresholds per test set (CAS(ME)³ 0.7, 0.7, 0.4; SAMM
Challenge 0.5, 0.5, 0.37: ``test_main.py``) without saying how they were chosen. Here ``fit`` chooses them on the
fold's training videos (MaE threshold by MaE F1, then ME threshold and dif by ME F1, by the MEGC rule),
``--model-opt`` fixes them, and ``--selection test-oracle`` (LEAKY) chooses them on the test videos.

``load_authors_weights(net, path)`` reads the authors' ``megc2022-pretrained-weights/*.pkl`` (a PyTorch state dict
saved with ``torch.save``): the port keeps their module names, so the state dict loads as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np
import torch
from scipy.signal import find_peaks
from torch import nn

from mebench.api import (CodeLocation, ConfigError, DataError, Fidelity, InputSpec, ModelCard, ModelSpec, Option,
                         OptionError, Reference, ReportedFigures, hookimpl)
from mebench.spotting import Spotted, spotting_figures, video_counts
from mebench_plugins.models.pretrained_weights import file_digest
from mebench_plugins.spotters import FLOW_METHODS, resolve_spotter_options
from mebench_plugins.spotters.softnet import FACE_SIZE, landmarks, min_max, optical_strain
from mebench_plugins.spotters.video_input import (CROPS, LEARNED_FLOW_CACHE_OPTION, LearnedSpotterInput,
                                                   cached_flows, face_flows, face_key, flows)

#: The side of each input image (``dataloader``: ``torch.reshape(…, (1, 28, 28))``).
INPUT_SIZE = 28
TYPES = ("me", "mae")
#: The thresholds that ``fit`` tries on the training videos: 0.05, 0.10, …, 0.95.
THRESHOLD_GRID = tuple(np.round(np.arange(0.05, 1.0, 0.05), 2).tolist())
#: The dif thresholds ``fit`` tries: 0.00, 0.05, …, 0.95.
DIF_GRID = tuple(np.round(np.arange(0.0, 1.0, 0.05), 2).tolist())


@dataclass(frozen=True)
class Setting:
    """The post-processing constants of one test set in ``spot_interval.spotting`` and its thresholds in
    ``test_main.py``, at the set's frame rate ``fps``."""

    fps: float
    k_micro: int
    k_macro: int
    micro_min: int
    micro_max: int
    macro_min: int
    macro_max: int
    micro_left_dis: int
    micro_right_dis: int
    macro_left_dis: int
    macro_right_dis: int
    peak_micro_dis: int
    peak_macro_dis: int
    micro_threshold: float
    macro_threshold: float
    dif_threshold: float

    def scaled(self, fps: float) -> "Setting":
        """The frame counts at ``fps`` (each × fps / self.fps, rounded, at least 1); thresholds unchanged."""
        if fps == self.fps:
            return self
        ratio = fps / self.fps
        frames = {name: max(1, int(round(getattr(self, name) * ratio))) for name in FRAME_FIELDS}
        return Setting(fps=fps, **frames, micro_threshold=self.micro_threshold,
                       macro_threshold=self.macro_threshold, dif_threshold=self.dif_threshold)


FRAME_FIELDS = ("k_micro", "k_macro", "micro_min", "micro_max", "macro_min", "macro_max", "micro_left_dis",
                "micro_right_dis", "macro_left_dis", "macro_right_dis", "peak_micro_dis", "peak_macro_dis")

#: ``CAS_Test_cropped`` (CAS(ME)³, 30 fps) and ``SAMM_Test_cropped`` (SAMM Challenge, 200 fps) as the authors set them.
SETTINGS = {
    "cas": Setting(30.0, 6, 18, 5, 30, 15, 90, 15, 15, 45, 45, 12, 36, 0.7, 0.7, 0.4),
    "samm": Setting(200.0, 37, 111, 60, 150, 100, 600, 50, 100, 120, 200, 600, 1200, 0.5, 0.5, 0.37),
}

OPTIONS = (
    Option("setting", str, "auto", "the authors' post-processing constants: cas (CAS(ME)³ at 30 fps), samm (SAMM "
                                   "at 200 fps); auto: samm for a SAMM database, else cas with its frame counts "
                                   "scaled by the video's fps / 30", choices=("auto", "cas", "samm")),
    Option("micro_threshold", float, None, "ME peak threshold on the averaged scores; default: chosen on the fold's "
                                           "training videos (the authors fix 0.7 on CAS(ME)³, 0.5 on SAMM)",
           minimum=0.0, maximum=1.0),
    Option("macro_threshold", float, None, "MaE peak threshold; default: chosen on the training videos (the "
                                           "authors' 0.7, 0.5)", minimum=0.0, maximum=1.0),
    Option("dif_threshold", float, None, "an ME is kept where its averaged score exceeds the MaE curve's by this; "
                                         "default: chosen on the training videos (the authors' 0.4, 0.37)",
           minimum=-1.0, maximum=1.0),
    Option("epochs", int, 10, "training epochs (the authors' 10)", minimum=1),
    Option("batch_size", int, 128, "training batch size (the authors' 128)", minimum=1),
    Option("lr", float, 0.00005, "Adam learning rate (the authors' 0.00005)", minimum=0.0),
    Option("ratio", int, 1, "label-0 frames kept per labelled frame (the authors' 1)", minimum=1),
    Option("soft_weight", float, 0.0, "weight w of the soft-label loss, (1 − w) · MSE(hard) + w · MSE(soft); the "
                                      "authors' code trains 0.7 · hard + 0.3 · hard (0); 0.3 weighs the soft loss "
                                      "as its weights intend",
           minimum=0.0, maximum=1.0),
    Option("flow", str, "tvl1", "optical flow: tvl1 (SOFTNet's Dual TV-L1), rlof, dis (fast)", choices=FLOW_METHODS),
    Option("crop", str, "auto", "auto: crop the face found once per video (OpenCV's Haar cascade) unless the "
                                "database ships face crops; none: the whole frames", choices=CROPS),
    Option("seed", int, 1, "seed of the initial weights, the sampling down and the shuffles", minimum=0),
    Option("weights", str, None, "the authors' trained net (megc2022-pretrained-weights/<cas|samm>_weights.pkl, a state "
                                 "dict) loaded in every fold instead of training; the thresholds are still chosen on "
                                 "the training videos; the run's identity holds the file's SHA-256, not its path"),
    LEARNED_FLOW_CACHE_OPTION,
)


# --- the net ----------------------------------------------------------------------------------------------------


class SOFTNet(nn.Module):
    """``network.SOFTNet``: the backbone, without a head; (N, 1, 28, 28) × 3 → (N, 256)."""

    def __init__(self, in_channels: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 3, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(in_channels, 5, kernel_size=5, padding=2)
        self.conv3 = nn.Conv2d(in_channels, 8, kernel_size=5, padding=2)
        self.relu = nn.ReLU()
        self.maxpool2 = nn.MaxPool2d(2, 2)
        self.maxpool3 = nn.MaxPool2d(3, 3)
        self.flatten = nn.Flatten()

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, x3: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.maxpool3(self.relu(self.conv1(x1))), self.maxpool3(self.relu(self.conv2(x2))),
                       self.maxpool3(self.relu(self.conv3(x3)))], 1)
        return self.flatten(self.maxpool2(x))


class MTSN(nn.Module):
    """``network.MTSN``: the one backbone on the k-apart (u, v, strain) and on the 1-apart ones, concatenated,
    ``fc1`` 512 → 128 (ReLU), ``fc2`` 128 → 1, sigmoid. ``forward(x)`` takes (N, 6, 28, 28): the k-apart u, v,
    strain, then the 1-apart ones. ``generator``: the initial weights' random numbers (``init_weights``)."""

    def __init__(self, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.SOFTNet = SOFTNet()
        self.fc1 = nn.Linear(512, 128)
        self.fc2 = nn.Linear(128, 1)
        self.flatten = nn.Flatten()
        self.relu = nn.ReLU()
        self.sigmoid = nn.Sigmoid()
        for layer in (self.SOFTNet.conv1, self.SOFTNet.conv2, self.SOFTNet.conv3, self.fc1, self.fc2):
            nn.init.xavier_uniform_(layer.weight, generator=generator)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top = self.SOFTNet(x[:, 0:1], x[:, 1:2], x[:, 2:3])
        bottom = self.SOFTNet(x[:, 3:4], x[:, 4:5], x[:, 5:6])
        return self.sigmoid(self.fc2(self.relu(self.fc1(torch.cat((top, bottom), 1)))))


def load_authors_weights(net: MTSN, path: str | Path) -> MTSN:
    """The authors' ``megc2022-pretrained-weights/<cas|samm>_weights.pkl`` (``torch.save(model.state_dict())``) into
    ``net``; a file that is not such a state dict is a ``DataError`` naming it and what differs."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file is the same answer to the user
        raise DataError(str(path), f"not a PyTorch state dict ({type(error).__name__})",
                        "give the authors' megc2022-pretrained-weights/*.pkl") from None
    expected = net.state_dict()
    if not isinstance(state, dict) or set(state) != set(expected):
        keys = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise DataError(str(path), f"keys {keys} where MTSN's are {sorted(expected)}",
                        "give the authors' megc2022-pretrained-weights/*.pkl")
    for name, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise DataError(str(path), f"{name} of shape {tuple(tensor.shape)} where MTSN's is "
                                       f"{tuple(expected[name].shape)}", "give the authors' MTSN weights")
    net.load_state_dict(state)
    return net


def authors_weights(num_classes: int, options: dict[str, Any]) -> dict[str, Any] | None:
    """What the net starts from under ``options`` (``ModelSpec.pretrained``, found at planning): with ``weights``, the
    authors' file as given, its SHA-256 (in the run's identity, not its path) and the modules it fills, after
    ``load_authors_weights`` has read it (a bad file stops the plan in one line); without, None (trained per fold)."""
    given = options.get("weights")
    if not given:
        return None
    path = Path(str(given)).expanduser()
    if not path.is_file():
        raise OptionError(f"--model-opt weights={given}: spotter 'mtsn': no such file; give the authors' "
                          f"megc2022-pretrained-weights/<cas|samm>_weights.pkl")
    load_authors_weights(MTSN(), path)
    return {"source": f"{REPOSITORY} megc2022-pretrained-weights", "file": given, "sha256": file_digest(path),
            "loaded": ["SOFTNet", "fc1", "fc2"], "adapted": [], "new": []}


# --- the input ---------------------------------------------------------------------------------------------------


def input_image(flow: np.ndarray, points: dict[int, tuple[int, int]], size: int = FACE_SIZE,
                side: int = INPUT_SIZE) -> np.ndarray:
    """SOFTNet's ``extract_preprocess`` for one flow field (H, W, 2) of a ``size``-pixel face at ``side`` × ``side``:
    (|u − nose|, |v − nose|, strain − nose), eyes masked, the eyebrows' region over the mouth's; float64."""
    p = points
    u, v = np.asarray(flow[..., 0], np.float64), np.asarray(flow[..., 1], np.float64)
    final = np.stack([u, v, optical_strain(u, v)], axis=-1)
    nose_x, nose_y = p[28]
    final = final - final[nose_y - 5:nose_y + 6, nose_x - 5:nose_x + 6].mean(axis=(0, 1))
    final[..., :2] = np.abs(final[..., :2])
    for first in (36, 42):  # each eye's six landmarks pushed 15 pixels outwards, masked to 0
        q = [p[first + i] for i in range(6)]
        eye = [(max(q[0][0] - 15, 0), q[0][1]), (q[1][0], max(q[1][1] - 15, 0)), (q[2][0], max(q[2][1] - 15, 0)),
               (min(q[3][0] + 15, size), q[3][1]), (q[4][0], min(q[4][1] + 15, size)),
               (q[5][0], min(q[5][1] + 15, size))]
        cv2.fillPoly(final, [np.array(eye)], 0)
    brows_top = min(max(p[19][1] - 12, 0), max(p[24][1] - 12, 0))
    brows_bottom = max(min(p[41][1] + 12, size), min(p[46][1] + 12, size))
    brows_left, brows_right = max(p[17][0] - 12, 0), min(p[26][0] + 12, size)
    mouth_top, mouth_bottom = max(p[50][1] - 12, 0), min(p[57][1] + 12, size)
    mouth_left, mouth_right = max(p[60][0] - 12, 0), min(p[64][0] + 12, size)
    half = side // 2
    image = np.zeros((side, side, 3))
    image[:half] = cv2.resize(final[brows_top:brows_bottom, brows_left:brows_right], (side, half))
    image[half:] = cv2.resize(final[mouth_top:mouth_bottom, mouth_left:mouth_right], (side, side - half))
    return image


def stream_images(flow_fields: np.ndarray, size: int = FACE_SIZE) -> np.ndarray:
    """The normalised images of flow fields (N, H, W, 2) of a ``size``-pixel face video: (N, 28, 28, 3) float32."""
    points = landmarks(size)
    images = [input_image(field, points, size) for field in flow_fields]
    return min_max(np.stack(images)) if images else np.zeros((0, INPUT_SIZE, INPUT_SIZE, 3), np.float32)


def video_inputs(faces: np.ndarray, k: int, flow: str) -> np.ndarray:
    """Both streams of every frame j = 0 … T − k − 1 (``prepare_dataset``: the 1-apart stream cut to the k-apart
    one's length): (T − k, 6, 28, 28) float32, channels k-apart u, v, strain then 1-apart u, v, strain."""
    return stream_inputs(flows(faces, k, flow), flows(faces, 1, flow), faces.shape[1])


def stream_inputs(apart_k: np.ndarray, apart_1: np.ndarray, size: int = FACE_SIZE) -> np.ndarray:
    """``video_inputs`` from the flows k apart (T − k, H, W, 2) and 1 apart (T − 1, …) of a ``size``-pixel face video
    (``video_input.flows``, computed or read from the cache), the second cut to the first's length."""
    count = len(apart_k)
    both = np.concatenate([stream_images(apart_k, size), stream_images(apart_1[:count], size)], axis=-1)
    return np.ascontiguousarray(both.transpose(0, 3, 1, 2))


# --- labels, training, scores -------------------------------------------------------------------------------------


def pseudo_labels(n_labels: int, samples: Sequence[tuple[int, int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """``pseudo_labeling`` for one video: (hard, soft), each (n_labels,), from its 0-based (onset, apex, offset)
    expressions of both types. Hard: 1 at onset … offset (from the apex where onset ≤ 1). Soft: at a frame f of
    onset … apex the count of frames since the onset used, over apex − onset; at f of apex + 1 … offset
    (offset − f) / (offset − apex). Where apex == onset the authors' division has no value: 1 (the apex)."""
    hard, soft = np.zeros(n_labels), np.zeros(n_labels)
    for onset_at, apex, offset in samples:
        onset = onset_at if onset_at > 1 else apex
        for frame_index, frame in enumerate(range(onset, offset + 1)):
            if frame >= n_labels:
                continue
            hard[frame] = 1
            if onset_at <= frame <= apex:
                soft[frame] = frame_index / (apex - onset_at) if apex > onset_at else 1.0
            elif apex < frame <= offset:
                soft[frame] = (offset - frame) / (offset - apex)
    return hard, soft


def sample_down(labels: np.ndarray, ratio: int, rng: np.random.Generator) -> np.ndarray:
    """``train``'s sampling down: ``ratio`` × (the labelled count) label-0 frames at random (all of them where there
    are fewer), every labelled frame; the kept positions in order."""
    zeros, ones = np.flatnonzero(labels == 0), np.flatnonzero(labels > 0)
    keep = min(len(zeros), len(ones) * ratio)
    return np.sort(np.concatenate([rng.choice(zeros, keep, replace=False), ones]))


def training_loss(out: torch.Tensor, hard: torch.Tensor, soft: torch.Tensor, soft_weight: float) -> torch.Tensor:
    """(1 − w) · MSE(out, hard) + w · MSE(out, soft); the authors' code, ``0.7 * loss1 + 0.3 * loss1``, is w = 0."""
    return ((1 - soft_weight) * nn.functional.mse_loss(out, hard)
            + soft_weight * nn.functional.mse_loss(out, soft))


def train_net(x: np.ndarray, hard: np.ndarray, soft: np.ndarray, options: dict[str, Any],
              generator: torch.Generator) -> MTSN:
    """``train``: a fresh MTSN, Adam, shuffled batches (``DataLoader(shuffle=True)``), loss
    (1 − w) · MSE(hard) + w · MSE(soft) with w = ``soft_weight``."""
    net = MTSN(generator)
    x_t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    hard_t = torch.from_numpy(np.asarray(hard, np.float32))
    soft_t = torch.from_numpy(np.asarray(soft, np.float32))
    optimiser = torch.optim.Adam(net.parameters(), lr=options["lr"])
    w, batch = options["soft_weight"], options["batch_size"]
    net.train()
    for _epoch in range(options["epochs"]):
        order = torch.randperm(len(x_t), generator=generator)
        for start in range(0, len(order), batch):
            index = order[start:start + batch]
            optimiser.zero_grad()
            loss = training_loss(net(x_t[index]).view(-1), hard_t[index], soft_t[index], w)
            loss.backward()
            optimiser.step()
    return net.eval()


def net_scores(net: MTSN, x: np.ndarray, batch: int = 512) -> np.ndarray:
    """The net's score of each frame: (N,) float64."""
    x_t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    with torch.no_grad():
        parts = [net(x_t[start:start + batch]).numpy().ravel() for start in range(0, len(x_t), batch)]
    return np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)


# --- post-processing ----------------------------------------------------------------------------------------------


def aggregate(scores: np.ndarray, k: int) -> np.ndarray:
    """The score aggregation of ``spotting``: ``s[i] = mean(scores[i … i + 2k − 1])`` for i = 0 … len − 2k − 1 (the
    authors' ``score[x − k:x + k].mean()`` at x = k … len − k − 1, then ``[k:-k]``)."""
    scores = np.asarray(scores, np.float64)
    if len(scores) <= 2 * k:
        return np.zeros(0)
    return np.lib.stride_tricks.sliding_window_view(scores, 2 * k)[:len(scores) - 2 * k].mean(axis=1)


def detect_interval(scores: np.ndarray, peak: int, left_dis: int, right_dis: int, threshold: float
                    ) -> tuple[int, int, int]:
    """``detectInterval``: start the frame of peak − left_dis … peak whose score differs most from the peak's while
    above ``threshold`` (0 where none), end likewise within peak … peak + right_dis (peak + right_dis, or the last
    frame, where none); (start, peak, end)."""
    start, best = 0, 0.0
    for index in range(peak - left_dis, peak + 1):
        if index >= 0:
            diff = abs(scores[peak] - scores[index])
            if diff > best and scores[index] > threshold:
                start, best = index, diff
    end, best = min(peak + right_dis, len(scores) - 1), 0.0
    for index in range(peak, peak + right_dis + 1):
        if index < len(scores):
            diff = abs(scores[peak] - scores[index])
            if diff > best and scores[index] > threshold:
                end, best = index, diff
    return start, peak, end


def detect(scores: np.ndarray, threshold: float, distance: int, left_dis: int, right_dis: int, shortest: int,
           longest: int) -> list[tuple[int, int, int]]:
    """One type's ``Detect`` block of ``spotting``: peaks above ``threshold`` at least ``distance`` apart, each
    interval kept where shortest < end − start < longest and the peak above both ends (or above 0.95)."""
    if len(scores) == 0:
        return []
    found = []
    for peak in find_peaks(scores, height=threshold, distance=max(1, distance))[0]:
        start, peak, end = detect_interval(scores, int(peak), left_dis, right_dis, threshold)
        if shortest < end - start < longest and (
                scores[peak] > 0.95 or (scores[peak] > scores[start] and scores[peak] > scores[end])):
            found.append((start, peak, end))
    return found


def check_peak(micro: list[tuple[int, int, int]], micro_scores: np.ndarray, macro_scores: np.ndarray,
               dif_threshold: float) -> list[tuple[int, int, int]]:
    """``checkPeak``: an ME kept where its averaged score at the peak exceeds the MaE curve's at the same index (its
    last value past its end; 0 where the video is too short for it) by more than ``dif_threshold``."""
    kept = []
    for start, peak, end in micro:
        if peak < len(macro_scores):
            other = macro_scores[peak]
        else:
            other = macro_scores[-1] if len(macro_scores) else 0.0
        if micro_scores[peak] - other > dif_threshold:
            kept.append((start, peak, end))
    return kept


def spot_curves(micro_scores: np.ndarray, macro_scores: np.ndarray, setting: Setting, micro_threshold: float,
                macro_threshold: float, dif_threshold: float) -> list[tuple[int, int, str]]:
    """``spotting``'s detection on one video's averaged curves (``aggregate`` at k_micro and k_macro): its (onset,
    offset, type) intervals as 0-based positions of its frames, MEs then MaEs."""
    s = setting
    micro = detect(micro_scores, micro_threshold, s.peak_micro_dis, s.micro_left_dis, s.micro_right_dis,
                   s.micro_min, s.micro_max)
    macro = detect(macro_scores, macro_threshold, s.peak_macro_dis, s.macro_left_dis, s.macro_right_dis,
                   s.macro_min, s.macro_max)
    micro = check_peak(micro, micro_scores, macro_scores, dif_threshold)
    return ([(start + s.k_micro, end + s.k_micro, "me") for start, _, end in micro]
            + [(start + s.k_macro, end + s.k_macro, "mae") for start, _, end in macro])


def spot_scores(scores: np.ndarray, setting: Setting, micro_threshold: float, macro_threshold: float,
                dif_threshold: float) -> list[tuple[int, int, str]]:
    """``spotting`` for one video's raw scores (frame j = 0 … T − k − 1): its (onset, offset, type) intervals as
    0-based positions of its frames, MEs then MaEs."""
    return spot_curves(aggregate(scores, setting.k_micro), aggregate(scores, setting.k_macro), setting,
                       micro_threshold, macro_threshold, dif_threshold)


# --- the spotter ---------------------------------------------------------------------------------------------------


def _f1(found: dict[str, list], truth: dict[str, list], kind: str) -> float:
    videos = list(truth)
    guesses = [Spotted(video, onset, offset, kind) for video in videos for onset, offset, t in found[video]
               if t == kind]
    answers = [Spotted(video, onset, offset, kind) for video in videos for onset, offset, t in truth[video]
               if t == kind]
    return float(spotting_figures(video_counts(guesses, answers, videos).sum(axis=0))[f"f1_{kind}"])


THRESHOLD_NAMES = ("micro_threshold", "macro_threshold", "dif_threshold")


def choose_thresholds(scores: dict[str, np.ndarray], truth: dict[str, list[tuple[int, int, str]]],
                      settings: dict[str, Setting], authors: Setting, fixed: dict[str, float] | None = None
                      ) -> dict[str, float]:
    """The thresholds with the highest F1 over these videos by the MEGC rule (``scores``: each video's raw scores,
    ``truth``: its 0-based intervals, ``settings``: its constants): the MaE threshold by MaE F1 (``THRESHOLD_GRID``),
    then with it the ME threshold and dif (``DIF_GRID``) by ME F1; of equal ones the closest to ``authors``'.
    ``fixed``: thresholds given, not chosen."""
    fixed = fixed or {}
    grids = {"micro_threshold": THRESHOLD_GRID, "macro_threshold": THRESHOLD_GRID, "dif_threshold": DIF_GRID}
    grids = {name: (fixed[name],) if name in fixed else grid for name, grid in grids.items()}
    videos = list(scores)
    curves = {video: (aggregate(scores[video], settings[video].k_micro),
                      aggregate(scores[video], settings[video].k_macro)) for video in videos}

    def detected(kind: str, threshold: float) -> dict[str, list]:
        s = {video: settings[video] for video in videos}
        if kind == "mae":
            return {v: detect(curves[v][1], threshold, s[v].peak_macro_dis, s[v].macro_left_dis,
                              s[v].macro_right_dis, s[v].macro_min, s[v].macro_max) for v in videos}
        return {v: detect(curves[v][0], threshold, s[v].peak_micro_dis, s[v].micro_left_dis, s[v].micro_right_dis,
                          s[v].micro_min, s[v].micro_max) for v in videos}

    def intervals(found: dict[str, list], kind: str) -> dict[str, list]:
        k = {video: settings[video].k_micro if kind == "me" else settings[video].k_macro for video in videos}
        return {v: [(start + k[v], end + k[v], kind) for start, _, end in found[v]] for v in videos}

    macro = max((_f1(intervals(detected("mae", t), "mae"), truth, "mae"), -abs(t - authors.macro_threshold), -t, t)
                for t in grids["macro_threshold"])[-1]
    best = []
    for t in grids["micro_threshold"]:
        micro = detected("me", t)
        for d in grids["dif_threshold"]:
            kept = {v: check_peak(micro[v], curves[v][0], curves[v][1], d) for v in videos}
            best.append((_f1(intervals(kept, "me"), truth, "me"),
                         -abs(t - authors.micro_threshold) - abs(d - authors.dif_threshold), -t, -d, t, d))
    chosen = max(best)
    return {"micro_threshold": chosen[-2], "macro_threshold": macro, "dif_threshold": chosen[-1]}


class MTSNSpotter(LearnedSpotterInput):
    """One MTSN for both types: ``fit(videos)`` trains it on the fold's training videos and chooses the thresholds
    there (unless given); ``choose_threshold(videos)`` chooses them on other videos (the test fold's under
    ``--selection test-oracle``); ``spot_video(video)`` gives the intervals in the video's frame numbers."""

    net_class = MTSN  # what fit builds, one for both types

    def __init__(self, **options: Any):
        self.options = resolve_spotter_options(options, OPTIONS, "mtsn")
        self.net: MTSN | None = None
        self.thresholds: dict[str, float] = {}
        self._scores: dict[str, np.ndarray] = {}

    def setting(self, video: Any) -> Setting:
        """The authors' constants for ``video`` (``setting`` option; auto: SAMM's for a SAMM database, else CAS's
        at the video's frame rate)."""
        chosen = self.options["setting"]
        if chosen == "auto":
            chosen = "samm" if str(video.dataset).lower().startswith("samm") else "cas"
        return SETTINGS[chosen].scaled(float(video.fps)) if chosen == "cas" else SETTINGS[chosen]

    def _inputs(self, video: Any) -> np.ndarray:
        crop, flow, cache = self.options["crop"], self.options["flow"], self._cache
        cache_flows = self.options["cache_flows"]
        faces, apart_k = face_flows(video, FACE_SIZE, crop, self.setting(video).k_micro, flow, cache, cache_flows)
        apart_1 = cached_flows(video, faces, face_key(video, FACE_SIZE, crop), 1, flow, cache if cache_flows else None)
        return stream_inputs(apart_k, apart_1, faces.shape[1])

    def video_scores(self, video: Any) -> np.ndarray:
        """The net's raw score of each frame j = 0 … T − k − 1 of ``video`` (computed once)."""
        if video.id not in self._scores:
            self._scores[video.id] = net_scores(self.net, self._inputs(video))
        return self._scores[video.id]

    @staticmethod
    def _positions(video: Any) -> dict[int, int]:
        return {number: index for index, number in enumerate(video.frames.indices())}

    def _samples(self, video: Any) -> list[tuple[int, int, int]]:
        """The video's expressions as 0-based (onset, apex, offset); an unannotated apex: the middle frame."""
        at = self._positions(video)
        return [(at[i.onset], at[i.apex if i.apex is not None else i.onset + (i.offset - i.onset) // 2],
                 at[i.offset]) for i in video.intervals]

    def _truth(self, video: Any) -> list[tuple[int, int, str]]:
        at = self._positions(video)
        return [(at[i.onset], at[i.offset], i.kind) for i in video.intervals]

    def fit(self, videos: Sequence[Any]) -> "MTSNSpotter":
        holding = [video for video in videos if video.intervals]  # load_label: the videos with an expression
        if not holding:
            raise DataError("training videos", "none holds an annotated expression", "give MTSN labelled videos")
        seed = self.options["seed"]
        inputs = {video.id: self._inputs(video) for video in holding}
        labels = [pseudo_labels(len(inputs[video.id]), self._samples(video)) for video in holding]
        x = np.concatenate([inputs[video.id] for video in holding])
        hard = np.concatenate([h for h, _ in labels])
        soft = np.concatenate([s for _, s in labels])
        if self.options["weights"]:  # the authors' trained net in every fold: only the thresholds are chosen here
            self.net = load_authors_weights(MTSN(), Path(self.options["weights"]).expanduser())
        else:
            kept = sample_down(hard, self.options["ratio"], np.random.default_rng(seed))
            self.net = train_net(x[kept], hard[kept], soft[kept], self.options, torch.Generator().manual_seed(seed))
        for video in holding:
            self._scores[video.id] = net_scores(self.net, inputs[video.id])
        self.choose_threshold(videos, leaky=False)
        return self

    def choose_threshold(self, videos: Sequence[Any], leaky: bool = True) -> dict[str, float]:
        """The thresholds not given chosen on ``videos`` (``choose_thresholds``); ``leaky``: on videos the spotter is
        scored on (``--selection test-oracle``), which thresholds all fixed by ``--model-opt`` refuse."""
        given = {name: self.options[name] for name in THRESHOLD_NAMES if self.options[name] is not None}
        if leaky and len(given) == len(THRESHOLD_NAMES):
            raise ConfigError("--selection test-oracle chooses MTSN's thresholds on the test videos, but --model-opt "
                              "fixes all three: leave one out or use --selection fixed")
        if len(given) < len(THRESHOLD_NAMES):
            authors = SETTINGS["samm" if all(self.setting(v) is SETTINGS["samm"] for v in videos) else "cas"]
            self.thresholds = choose_thresholds({video.id: self.video_scores(video) for video in videos},
                                                {video.id: self._truth(video) for video in videos},
                                                {video.id: self.setting(video) for video in videos}, authors, given)
        else:
            self.thresholds = given
        return dict(self.thresholds)

    def spot_video(self, video: Any) -> list[tuple[int, int, str]]:
        numbers = list(video.frames.indices())
        found = spot_scores(self.video_scores(video), self.setting(video), **self.thresholds)
        return [(numbers[min(onset, len(numbers) - 1)], numbers[min(offset, len(numbers) - 1)], kind)
                for onset, offset, kind in found]


def build(num_classes: int, input_spec: Any, **options: Any) -> MTSNSpotter:
    return MTSNSpotter(**options)


REPOSITORY = "genbing99/MTSN-Spot-ME-MaE"
COMMIT = "dd17fda2e361dc50da0a2e4893f2b0edce4ef270"
#: Table 2 (MEGC 2021 benchmark, F1-score), row "MTSN (Ours)" (README, images/result_megc2021.png).
PUBLISHED_MEGC2021 = {"casme2-long": {"f1": 0.3620, "f1_me": 0.0808, "f1_mae": 0.4104},
                      "samm-long": {"f1": 0.2867, "f1_me": 0.0878, "f1_mae": 0.3459}}

CARD = ModelCard(
    source=Reference("Liong, G.-B.; Liong, S.-T.; See, J.; Chan, C.-S.",
                     "MTSN: A Multi-Temporal Stream Network for Spotting Facial Macro- and Micro-Expression with Hard "
                     "and Soft Pseudo-labels",
                     "Proceedings of the 2nd Workshop on Facial Micro-Expression (FME '22), 3–10", 2022,
                     "https://doi.org/10.1145/3552465.3555040"),
    code=(CodeLocation(REPOSITORY, "network.py", "MTSN", COMMIT[:7], "none stated",
                       note="with prepare_data.py (pseudo_labeling, prepare_dataset), train_model.py (train), "
                            "train_main.py (batch 128, lr 0.00005, 10 epochs, ratio 1), dataloader.py (28 × 28 "
                            "streams), spot_interval.py (spotting, detectInterval, checkPeak) and test_main.py "
                            "(thresholds); weights megc2022-pretrained-weights/<cas|samm>_weights.pkl (a state dict, "
                            "read by load_authors_weights)"),),
    fidelity=Fidelity.ADAPTED,
    fidelity_detail="the net module by module as network.MTSN (one SOFTNet backbone shared by both streams, "
                    "fc1 512 → 128, fc2 128 → 1, sigmoid; Xavier-uniform weights, zero biases), the hard and soft "
                    "pseudo-labels, the sampling down, the training (Adam lr 0.00005, batch 128, 10 epochs, the "
                    "code's loss) and the post-processing with the authors' constants as their scripts; the input "
                    "images are made by mebench (the authors publish the arrays, not the script: deviations)",
    input_chain="grey frames of one long video resized to 128 × 128 faces; per frame j the flows to frames j + k and "
                "j + 1, each as SOFTNet's u, v, strain image (nose-subtracted, eyes masked, eyebrow and mouth "
                "regions) at 28 × 28, min–max scaled",
    reference_parameters=66_209,
    reference_parameters_source="counted from network.py's layers (5·5·1·3+3 + 5·5·1·5+5 + 5·5·1·8+8 + 512·128+128 "
                                "+ 128·1+1; one SOFTNet for both streams) and the tensors of the published "
                                "megc2022-pretrained-weights/cas_weights.pkl",
    identification="the micro, macro and dif thresholds chosen on the fold's training videos (MaE threshold by MaE "
                   "F1 over 0.05 … 0.95, then the ME threshold and dif over 0.05 … 0.95 × 0.00 … 0.95 by ME F1; ties: "
                   "nearest the authors' values) unless --model-opt gives them; --selection test-oracle (LEAKY) "
                   "chooses them on the test videos",
    deviations=(
        "input: the authors train and test on optical-flow arrays they publish (megc2021-processed-data, "
        "megc2022-processed-data: 28 × 28 × 3 per frame at distances k and 1), not the script that made them; "
        "mebench makes each image as the same authors' SOFTNet extraction (softnet.py: TV-L1 flow on 128 × 128 "
        "faces, strain, nose subtracted, eyes masked, eyebrows over mouth, min–max scaled) at 28 × 28, with "
        "SOFTNet's deviations (mean-face landmarks, Haar-cascade crop)",
        "thresholds: the authors fix micro, macro and dif thresholds per test set in test_main.py (CAS(ME)³ 0.7, "
        "0.7, 0.4; SAMM 0.5, 0.5, 0.37; the commit is named \"Fixing hyperparameters\") without a stated selection; "
        "mebench chooses them on the training videos (scored with the net trained on them, so optimistic)",
        "post-processing constants: spot_interval.py gives them for the MEGC 2022 test sets only (CAS_Test_cropped, "
        "SAMM_Test_cropped); mebench uses the SAMM set for a SAMM database and the CAS set elsewhere, its frame counts "
        "scaled by fps / 30 (unchanged at 30 fps); the constants behind the MEGC 2021 figures are not published",
        "loss: train_model.py computes loss = 0.7 * loss1 + 0.3 * loss1 (hard label twice; the soft loss loss2 is "
        "printed only); mebench trains that (soft_weight 0); 0.7 hard + 0.3 soft, as the weights intend, is "
        "--model-opt soft_weight=0.3",
        "backbones: the caption of the paper's Figure 1 (README, images/network.png) says \"the network comprises two "
        "SOFTNet [12] backbones\"; network.py applies one SOFTNet module to both streams and the published weights "
        "hold one (SOFTNet.conv1 … conv3): mebench shares it as the code does",
        "checkPeak compares the ME curve with the MaE curve at the same index although the two are cut by k_micro "
        "and k_macro frames: kept as the authors'; where a video is too short for the MaE curve mebench compares "
        "with 0 (the authors' code fails)",
        "labels: the authors' soft label divides by apex − onset, which fails where they are equal; mebench gives "
        "the apex 1 there; an interval without an annotated apex takes its middle frame",
        "training: the authors train one net on every video of CAS(ME)² or SAMM-LV (train_main.py) and test on the "
        "MEGC 2022 sets; mebench trains per fold on the fold's training videos that hold an expression (load_label "
        "keeps those) from the same seeded initial weights; random.sample, the DataLoader's shuffle and "
        "init_weights draw from numpy's and torch's generators (seed option); where fewer label-0 frames exist than "
        "ratio × the labelled ones, mebench keeps them all (the authors' random.sample fails)",
        "evaluation: the authors' MEGC 2021 evaluation script is not in the repository; mebench scores every video "
        "by the MEGC rule",
    ),
    reported=(
        *(ReportedFigures(
            source=f"Liong et al. 2022, Table 2 ({REPOSITORY} README, images/result_megc2021.png)", dataset=database,
            protocol="loso (MEGC 2021 benchmark; the repository trains on every video and holds no LOSO script)",
            selection="unknown (thresholds and post-processing constants for this table not published)",
            kind="intervals", figures=dict(PUBLISHED_MEGC2021[database]),
            note="overall F1 of ME and MaE together; the paper's overall over both databases 0.3191")
          for database in PUBLISHED_MEGC2021),
        ReportedFigures(
            source=f"Liong et al. 2022, Table 1 ({REPOSITORY} README, images/result_megc2022.png)",
            dataset="megc2022-test", protocol="cross-database (trained on CAS(ME)² / SAMM-LV, tested on the MEGC "
                                              "2022 unseen CAS(ME)³ and SAMM Challenge sets)",
            selection="thresholds fixed in test_main.py (CAS(ME)³ 0.7/0.7/0.4, SAMM 0.5/0.5/0.37), selection not "
                      "stated", kind="intervals", figures={"f1": 0.2586},
            note="overall precision 0.3061, recall 0.2239; SAMM Challenge F1 0.2381 (P 0.4545, R 0.1613), CAS(ME)³ "
                 "F1 0.2703 (P 0.2632, R 0.2778)"),
    ),
)


@hookimpl
def mebench_register_models(register):
    register(ModelSpec(
        name="mtsn",
        factory=build, input_spec=InputSpec(1, 1, 1, scaling="none"), preprocessing=(),
        description="MTSN (Liong et al., FME 2022): one net scoring every frame from flows k and 1 frames apart, "
                    "hard pseudo-labels, ME and MaE from the one score; thresholds chosen on the training videos",
        card=CARD, family="spotters", learner="spotter", options=OPTIONS, pretrained=authors_weights,
    ))
