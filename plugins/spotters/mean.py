"""MEAN (Liong, See & Chan, Signal Processing: Image Communication 2023), the MEGC2025 spot-then-recognise
baseline: a shallow multi-stream net with two heads, one scoring every frame of a long video for a
micro-expression (spotting) and one giving its emotion (recognition), ported to PyTorch from the authors' Keras
code (genbing99/MEAN_Spot-then-recognize, commit 9009b5c). It spots micro-expressions only, as the authors do.

What the authors' scripts do, and this module with them (``feature_extraction.py``, ``prepare_training.py``,
``load_label.py``, ``define_model.py``, ``train_evaluate.py``, ``training_utils.py``):

1. **k and k_p**: the flow is taken k frames apart, ``k = fps × 0.1 s`` (``set_k``: 3 for CAS(ME)² at 30 fps,
   20 for SAMM-LV at 200 fps); k_p (the authors' k') is half the mean annotated ME length,
   ``int((N + 1) / 2)`` with N the mean offset − onset (``cal_k_p``).
2. **Input** (``preProcess``): TV-L1 flow (u, v) between two 128 × 128 grey faces; the optical strain
   ``sqrt(u_x² + v_y² + ½ (u_y + v_x)²)`` from backward differences (``computeStrain``: a pixel less its left or
   upper neighbour, 0 where there is none); each of the three channels scaled to [0, 1] over the whole face
   (``cv2.normalize`` NORM_MINMAX); the eyebrows' region (landmarks 17–26, 12 pixels of margin, down to the
   lower eyelids) resized to the top 42 × 21 and the mouth's (landmarks 50, 57, 60, 64) to the bottom 42 × 21.
   Spotting: frame j = 0 … T − k − 1 is the flow from frame j to j + k. Recognition training: each ME clip is
   the flow from its onset to its apex frame.
3. **Spotting labels** (``spotting_pseudo_labeling``): frame j is 1 where frames j … j + k_p − 1 share a frame
   with onset … offset of an ME (IoU above 0), else 0.
4. **Training, per fold** (``train_test``): the spotting net (trunk and spotting head) on the training videos'
   frames, the label-0 frames sampled down to ``ratio`` (5) times the smaller class (``rem_count``), 10 epochs,
   batches of 32 shuffled every epoch, Adam at lr 0.0005, MSE plus the kernels' L2 terms (0.001 on the three
   stream convolutions, 0.1 on the merged one); every fold starts from the same initial weights. Then the
   recognition net by transfer (``MEAN_Recog_TL``): the spotting trunk frozen (its three convolutions and batch
   normalisations up to the concatenation), a new merged convolution and softmax head trained on the training
   ME clips whose emotion is negative, positive or surprise, 100 epochs, batch 32, Adam at lr 0.0005,
   categorical cross-entropy plus the new convolution's L2 term (0.1).
5. **Spotting** (``spotting``): the spotting scores of the T − k frames smoothed with a box of 2 k_p frames
   (``np.convolve(…, mode='same')``); peaks above ``mean + p · (max − mean)`` at least k_p frames apart
   (``find_peaks``); each peak j the interval [j − k_p, j + k_p] (clipped to the video here).
6. **Emotion** (``recognition``, Case 2, the one the authors score): the recognition head on every frame; the
   emotion of a peak j is the most common arg-max over frames ``max(0, j − k_p) … max(1, j) − 1`` (the first to
   reach the highest count where several do, as ``Counter.most_common``).

The threshold p: the authors fix 0.55 for every database (``main.py``'s ``p=0.55``), SOFTNet's value ("From our analysis,
0.55 achieved the highest F1-Score", SOFTNet's ``training.py``, of the databases it evaluates); MEAN's code
chooses it on no other videos — leaky, as for SOFTNet. Here, as ``softnet.py`` does, ``fit`` chooses p on the fold's training videos
(``P_GRID``, F1 of MEs by the MEGC rule), ``--model-opt p=…`` fixes it, and ``--selection test-oracle``
(labelled LEAKY) chooses it on the test videos (``choose_threshold``).

``load_keras_weights(net, path)`` reads the authors' ``MEAN_Weights/<database>/<spot|recog|spot_recog>/s<n>.hdf5``
into the port: kernels HWIO → OIHW, the dense layers' rows in Keras's channels-last flatten order, which the port
keeps, batch normalisation's moving mean and variance into the running statistics.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np
import torch
from scipy.signal import find_peaks
from torch import nn

from mebench.api import (CodeLocation, ConfigError, DataError, Fidelity, InputSpec, ModelCard, ModelSpec, Option,
                         Reference, ReportedFigures, hookimpl)
from mebench.spotting import Spotted, spotting_figures, video_counts
from mebench.tasks import STR_EMOTIONS, str_emotion
from mebench_plugins.spotters import FLOW_METHODS, optical_flow, relative_threshold, resolve_spotter_options
from mebench_plugins.spotters import softnet
from mebench_plugins.spotters.softnet import AUTHORS_P, FACE_SIZE, INPUT_SIZE, P_GRID, landmarks
from mebench_plugins.spotters.video_input import (CROPS, LEARNED_FLOW_CACHE_OPTION, LearnedSpotterInput,
                                                   cached_face_video, face_flows)

#: The maps of the three streams' convolutions (u, v, strain: ``Conv2D(3)``, ``Conv2D(3)``, ``Conv2D(8)``).
STREAM_MAPS = (3, 3, 8)
#: The maps of each head's merged convolution (``Conv2D(8, (5, 5))`` over the 14 concatenated maps).
MERGED_MAPS = 8
#: Keras's L2 factors: ``kernel_regularizer=l2(0.001)`` on the stream convolutions, ``l2(0.1)`` on the merged ones.
STREAM_L2, MERGED_L2 = 0.001, 0.1
#: The seconds the flow spans (``set_k``: "Calculated using fps*0.1s").
K_SECONDS = 0.1

OPTIONS = (
    Option("p", float, None, "threshold mean + p · (max − mean) of the smoothed scores; default: chosen on the "
                             "fold's training videos (the authors' 0.55 was chosen on the evaluated videos: leaky)",
           minimum=0.0, maximum=1.0),
    Option("k", int, None, "frames between the two faces of each flow; default the authors' fps × 0.1 s (at least 1)",
           minimum=1),
    Option("k_p", int, None, "the authors' k': half-width of the smoothing box, the peaks' distance and the "
                             "intervals'; default int((N + 1) / 2), N the mean offset − onset of the training "
                             "videos' ME intervals", minimum=1),
    Option("epochs_spot", int, 10, "epochs of the spotting net (the authors' 10)", minimum=1),
    Option("epochs_recog", int, 100, "epochs of the recognition head (the authors' 100)", minimum=1),
    Option("batch_size", int, 32, "training batch size of both (the authors' 32)", minimum=1),
    Option("lr_spot", float, 0.0005, "Adam learning rate of the spotting net (the authors' 0.0005)", minimum=0.0),
    Option("lr_recog", float, 0.0005, "Adam learning rate of the recognition head (the authors' 0.0005)",
           minimum=0.0),
    Option("ratio", int, 5, "label-0 frames kept per labelled frame when sampling down (the authors' 5)", minimum=1),
    Option("flow", str, "tvl1", "optical flow: tvl1 (the authors' Dual TV-L1), rlof, dis (fast)", choices=FLOW_METHODS),
    Option("crop", str, "auto", "auto: crop the face found once per video (OpenCV's Haar cascade on its first frames) "
                                "unless the database ships face crops; none: the whole frames", choices=CROPS),
    Option("seed", int, 1, "seed of the initial weights, the sampling down and the shuffles (the authors call "
                           "random.seed(1))", minimum=0),
    LEARNED_FLOW_CACHE_OPTION,
)


# --- the net ----------------------------------------------------------------------------------------------------


class MeanNet(nn.Module):
    """``MEAN_Spot_Recog_TL``: the shared trunk — per stream (u, v, strain) a 5 × 5 convolution ('same', ReLU) of
    3, 3 and 8 maps, batch normalisation (Keras's ε 0.001, momentum 0.99), a 3 × 3 max pool of stride 3
    (42 → 14) and dropout 0.3, the streams concatenated (14 maps) — and two heads, each a 5 × 5 convolution of 8
    maps ('same', ReLU), a 2 × 2 max pool (7 × 7), Keras's channels-last flatten (392), dropout 0.2 and a dense
    output: ``spot`` one linear score, ``recog`` one logit per emotion (the authors' softmax is
    ``probabilities``). Takes (N, 3, 42, 42): u, v, strain; gives (spot (N, 1), recog logits (N, classes)).
    ``generator``: the initial weights' random numbers (Glorot-uniform kernels, zero biases, as Keras)."""

    def __init__(self, classes: int = len(STR_EMOTIONS), generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.streams = nn.ModuleList([nn.Conv2d(1, maps, 5, padding=2) for maps in STREAM_MAPS])
        self.norms = nn.ModuleList([nn.BatchNorm2d(maps, eps=1e-3, momentum=0.01) for maps in STREAM_MAPS])
        self.pool = nn.MaxPool2d(3, 3)
        self.stream_dropout = nn.Dropout(0.3)
        merged = sum(STREAM_MAPS)
        flat = (INPUT_SIZE // 6) ** 2 * MERGED_MAPS  # 42 → 14 → 7: 7 · 7 · 8 = 392
        self.spot_conv = nn.Conv2d(merged, MERGED_MAPS, 5, padding=2)
        self.spot = nn.Linear(flat, 1)
        self.recog_conv = nn.Conv2d(merged, MERGED_MAPS, 5, padding=2)
        self.recog = nn.Linear(flat, classes)
        self.merged_pool = nn.MaxPool2d(2, 2)
        self.head_dropout = nn.Dropout(0.2)
        self.reset_head("spot", generator)
        self.reset_head("recog", generator)
        for conv in self.streams:
            nn.init.xavier_uniform_(conv.weight, generator=generator)
            nn.init.zeros_(conv.bias)

    def reset_head(self, head: str, generator: torch.Generator | None = None) -> None:
        """Keras's initialisation of one head's convolution and dense layer (Glorot-uniform, zero biases)."""
        for layer in (getattr(self, f"{head}_conv"), getattr(self, head)):
            nn.init.xavier_uniform_(layer.weight, generator=generator)
            nn.init.zeros_(layer.bias)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.stream_dropout(self.pool(norm(torch.relu(conv(x[:, index:index + 1])))))
                          for index, (conv, norm) in enumerate(zip(self.streams, self.norms))], dim=1)

    def head(self, merged: torch.Tensor, head: str) -> torch.Tensor:
        pooled = self.merged_pool(torch.relu(getattr(self, f"{head}_conv")(merged)))
        flat = pooled.permute(0, 2, 3, 1).flatten(1)  # Keras's Flatten of (N, 7, 7, 8)
        return getattr(self, head)(self.head_dropout(flat))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        merged = self.trunk(x)
        return self.head(merged, "spot"), self.head(merged, "recog")

    def trunk_parameters(self) -> list[nn.Parameter]:
        return [*self.streams.parameters(), *self.norms.parameters()]

    def head_parameters(self, head: str) -> list[nn.Parameter]:
        return [*getattr(self, f"{head}_conv").parameters(), *getattr(self, head).parameters()]

    def l2_penalty(self, head: str, trunk: bool) -> torch.Tensor:
        """Keras's regularisation losses of the layers being trained: ``0.001 · Σ w²`` of each stream kernel
        (``trunk``) and ``0.1 · Σ w²`` of the head's merged kernel (biases, batch normalisation and dense layers
        carry none)."""
        penalty = MERGED_L2 * getattr(self, f"{head}_conv").weight.pow(2).sum()
        if trunk:
            penalty = penalty + STREAM_L2 * sum(conv.weight.pow(2).sum() for conv in self.streams)
        return penalty


def keras_parameter_count(net: MeanNet) -> int:
    """The count Keras's ``summary()`` gives the combined model: the parameters and batch normalisation's moving
    mean and variance (Keras counts them as non-trainable weights; PyTorch keeps them as buffers)."""
    return (sum(p.numel() for p in net.parameters())
            + sum(norm.running_mean.numel() + norm.running_var.numel() for norm in net.norms))


def _layer_weights(path: Path) -> list[tuple[str, list[np.ndarray]]]:
    try:
        import h5py
    except ImportError:
        raise ConfigError("reading Keras weights needs h5py: pip install 'mebench[weights]' (or pip install h5py)")
    with h5py.File(path, "r") as handle:
        group = handle["model_weights"] if "model_weights" in handle else handle
        names = [name.decode() if isinstance(name, bytes) else str(name) for name in group.attrs.get("layer_names", [])]
        layers = []
        for name in names:
            weight_names = [w.decode() if isinstance(w, bytes) else str(w)
                            for w in group[name].attrs.get("weight_names", [])]
            if weight_names:
                layers.append((name, [np.asarray(group[name][w]) for w in weight_names]))
    return layers


def load_keras_weights(net: MeanNet, path: str | Path) -> MeanNet:
    """The weights of a Keras ``.h5``/``.hdf5`` file of ``MEAN_Spot``, ``MEAN_Recog_TL`` or ``MEAN_Spot_Recog_TL``
    (``save_weights`` or a whole saved model) into ``net``, layers with weights in the file's order as Keras's
    ``load_weights`` takes them: three stream convolutions, three batch normalisations (γ, β, moving mean,
    moving variance), then the merged convolution of each head the file holds (the spotting head's first: it was
    built first) and the dense layers named ``spot`` and ``recog``. Kernels HWIO → OIHW, dense kernels transposed.
    A file of another layout is a ``DataError`` naming it. Needs h5py."""
    path = Path(path)
    layers = _layer_weights(path)
    heads = [name for name, _ in layers if name in ("spot", "recog")]
    merged = [weights for name, weights in layers if name not in ("spot", "recog") and len(weights) == 2
              and weights[0].ndim == 4 and weights[0].shape[2] == sum(STREAM_MAPS)]
    if len(layers) != 6 + 2 * len(heads) or not heads or len(merged) != len(heads):
        raise DataError(str(path), f"{len(layers)} layers with weights ({', '.join(name for name, _ in layers)}), not "
                                   f"MEAN's three stream convolutions, three batch normalisations and a merged "
                                   f"convolution and dense layer per head", "give a weights file of the authors' MEAN")
    convs = [weights for _, weights in layers[:3]]
    norms = [weights for _, weights in layers[3:6]]
    dense = {name: weights for name, weights in layers if name in ("spot", "recog")}
    targets = [*zip(net.streams, convs), *((getattr(net, f"{head}_conv"), weights) for head, weights in zip(heads, merged)),
               *((getattr(net, head), dense[head]) for head in heads)]
    with torch.no_grad():
        for layer, (kernel, bias) in targets:
            kernel = kernel.transpose(3, 2, 0, 1) if kernel.ndim == 4 else kernel.T  # HWIO → OIHW; (in, out) → (out, in)
            if tuple(kernel.shape) != tuple(layer.weight.shape) or tuple(bias.shape) != tuple(layer.bias.shape):
                raise DataError(str(path), f"a kernel of shape {kernel.shape} where MEAN's has "
                                           f"{tuple(layer.weight.shape)}", "give a weights file of the authors' MEAN")
            layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel, dtype=np.float32)))
            layer.bias.copy_(torch.from_numpy(np.asarray(bias, dtype=np.float32)))
        for norm, weights in zip(net.norms, norms):
            if len(weights) != 4 or any(w.shape != (norm.num_features,) for w in weights):
                raise DataError(str(path), f"a batch normalisation of shapes {[w.shape for w in weights]} where MEAN's "
                                           f"has four of ({norm.num_features},)", "give a weights file of the authors' MEAN")
            for target, value in zip((norm.weight, norm.bias, norm.running_mean, norm.running_var), weights):
                target.copy_(torch.from_numpy(np.asarray(value, dtype=np.float32)))
    return net


# --- the input ---------------------------------------------------------------------------------------------------


def optical_strain(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``computeStrain``: backward differences (a pixel less its left or upper neighbour, pandas' ``shift(1)``),
    strain ``sqrt(u_x² + v_y² + ½ (u_y + v_x)²)``, each difference 0 where it has no neighbour (``fillna(0)``)."""
    u, v = np.asarray(u, np.float64), np.asarray(v, np.float64)
    u_x, v_x, u_y, v_y = (np.zeros_like(u) for _ in range(4))
    u_x[:, 1:], v_x[:, 1:] = u[:, 1:] - u[:, :-1], v[:, 1:] - v[:, :-1]
    u_y[1:], v_y[1:] = u[1:] - u[:-1], v[1:] - v[:-1]
    return np.sqrt(u_x ** 2 + v_y ** 2 + 0.5 * (u_y + v_x) ** 2)


def scale_channels(image: np.ndarray) -> np.ndarray:
    """``cv2.normalize(…, alpha=0, beta=1, NORM_MINMAX)`` of each channel of (H, W, C): [0, 1]; a flat channel 0."""
    low = image.min(axis=(0, 1), keepdims=True)
    span = image.max(axis=(0, 1), keepdims=True) - low
    return np.where(span > 0, (image - low) / np.where(span > 0, span, 1.0), 0.0)


def input_image(flow: np.ndarray, points: dict[int, tuple[int, int]], size: int = FACE_SIZE) -> np.ndarray:
    """``preProcess`` for one flow field (H, W, 2) of a ``size``-pixel face: (42, 42, 3) float64 of (u, v, strain),
    each channel scaled to [0, 1] over the face, the eyebrows' region over the mouth's."""
    p = points
    u, v = np.asarray(flow[..., 0], np.float64), np.asarray(flow[..., 1], np.float64)
    final = scale_channels(np.stack([u, v, optical_strain(u, v)], axis=-1))
    brows_top = min(max(p[19][1] - 12, 0), max(p[24][1] - 12, 0))
    brows_bottom = max(min(p[41][1] + 12, size), min(p[46][1] + 12, size))
    brows_left, brows_right = max(p[17][0] - 12, 0), min(p[26][0] + 12, size)
    mouth_top, mouth_bottom = max(p[50][1] - 12, 0), min(p[57][1] + 12, size)
    mouth_left, mouth_right = max(p[60][0] - 12, 0), min(p[64][0] + 12, size)
    half = INPUT_SIZE // 2
    image = np.zeros((INPUT_SIZE, INPUT_SIZE, 3))
    image[:half] = cv2.resize(final[brows_top:brows_bottom, brows_left:brows_right], (INPUT_SIZE, half))
    image[half:] = cv2.resize(final[mouth_top:mouth_bottom, mouth_left:mouth_right], (INPUT_SIZE, half))
    return image


def pair_inputs(faces: np.ndarray, pairs: Sequence[tuple[int, int]], flow: str) -> np.ndarray:
    """The input of each (first, second) pair of face positions: (len(pairs), 42, 42, 3) float32."""
    return flow_inputs([optical_flow(faces[a], faces[b], flow) for a, b in pairs], faces.shape[1])


def flow_inputs(flow_fields: Sequence[np.ndarray], size: int = FACE_SIZE) -> np.ndarray:
    """The input of each flow field (H, W, 2) of a ``size``-pixel face video (``video_input.flows``, computed or read
    from the cache): (N, 42, 42, 3) float32."""
    points = landmarks(size)
    images = [input_image(field, points, size) for field in flow_fields]
    return np.stack(images).astype(np.float32) if images else np.zeros((0, INPUT_SIZE, INPUT_SIZE, 3), np.float32)


# --- k, labels, smoothing, peaks, emotions ---------------------------------------------------------------------


def authors_k(fps: float) -> int:
    """``set_k``: the frames in 0.1 s (3 at 30 fps, 20 at 200 fps), at least 1."""
    return max(1, int(round(float(fps) * K_SECONDS)))


def authors_k_p(lengths: Sequence[int]) -> int:
    """``cal_k_p``: ``int((N + 1) / 2)``, N the mean of the ME intervals' offset − onset (SOFTNet's ``cal_k``)."""
    return softnet.authors_k(lengths)


def pseudo_labels(n_inputs: int, intervals: Sequence[tuple[int, int]], k_p: int) -> np.ndarray:
    """``spotting_pseudo_labeling`` for one video of ``n_inputs`` (T − k) inputs and its 0-based (onset, offset) ME
    intervals: 1 at j where frames j … j + k_p − 1 share one with onset … offset (IoU above 0), else 0."""
    labels = np.zeros(max(0, n_inputs), np.float32)
    starts = np.arange(len(labels))
    for onset, offset in intervals:
        labels[(starts <= offset) & (starts + k_p - 1 >= onset)] = 1.0
    return labels


def sample_down(labels: np.ndarray, ratio: int, rng: np.random.Generator) -> np.ndarray:
    """``train_test``'s sampling down: r = int(ratio × the smaller class's count); where r ≤ the frames, r label-0
    frames kept (all, where fewer) with every labelled one, else int(larger count / ratio) labelled frames with
    every label-0 one. The kept positions in order."""
    zeros, ones = np.flatnonzero(labels == 0), np.flatnonzero(labels > 0)
    counts = [count for count in (len(zeros), len(ones)) if count]
    if not counts:
        return np.zeros(0, int)
    keep = int(min(counts) * ratio)
    if keep <= len(labels):
        chosen = [rng.choice(zeros, min(keep, len(zeros)), replace=False), ones]
    else:
        chosen = [rng.choice(ones, min(int(max(counts) / ratio), len(ones)), replace=False), zeros]
    return np.sort(np.concatenate(chosen)).astype(int)


def smooth_scores(scores: np.ndarray, k_p: int) -> np.ndarray:
    """``smooth``: ``np.convolve(scores, ones(2 k_p) / (2 k_p), mode='same')`` — s[j] the sum of scores
    j − k_p … j + k_p − 1 (none outside) over 2 k_p — kept to the scores' length."""
    scores = np.asarray(scores, np.float64).ravel()
    box = np.ones(2 * k_p) / (2 * k_p)
    return np.convolve(scores, box, mode="same")[:len(scores)]


def peak_intervals(smoothed: np.ndarray, k_p: int, p: float) -> list[tuple[int, int, int]]:
    """Peaks j of ``smoothed`` above ``mean + p · (max − mean)``, at least k_p apart (``find_peaks``), each as
    (j − k_p, j + k_p, j): the authors' interval and its peak (the onset may be negative; the caller clips)."""
    if len(smoothed) == 0:
        return []
    peaks, _ = find_peaks(smoothed, height=relative_threshold(smoothed, p), distance=k_p)
    return [(int(j) - k_p, int(j) + k_p, int(j)) for j in peaks]


def peak_emotion(emotions: np.ndarray, peak: int, k_p: int) -> int:
    """``recognition``'s Case 2: the most common arg-max of the per-frame emotion scores ``emotions`` (frames,
    classes) over frames ``max(0, peak − k_p) … max(1, peak) − 1``; of equally common ones the first met
    (``Counter.most_common``)."""
    window = np.asarray(emotions)[max(0, peak - k_p):max(1, peak)]
    if len(window) == 0:  # a peak past the scored frames (the authors' code skips it with an error): the last frame's
        window = np.asarray(emotions)[-1:]
    return int(Counter(np.argmax(window, axis=-1).tolist()).most_common(1)[0][0])


# --- training ---------------------------------------------------------------------------------------------------


def _tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(np.asarray(images).transpose(0, 3, 1, 2), dtype=np.float32))


def train_spotting(net: MeanNet, images: np.ndarray, labels: np.ndarray, epochs: int, batch_size: int, lr: float,
                   generator: torch.Generator) -> MeanNet:
    """``model_spot.fit``: trunk and spotting head, batches of ``batch_size`` in a new order every epoch
    (``shuffle=True``), Adam (Keras's ε 1e-7), MSE plus the L2 terms."""
    x, y = _tensor(images), torch.from_numpy(np.asarray(labels, np.float32)).unsqueeze(1)
    optimiser = torch.optim.Adam([*net.trunk_parameters(), *net.head_parameters("spot")], lr=lr, eps=1e-7)
    net.train()
    for _epoch in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            optimiser.zero_grad()
            spot, _ = net(x[batch])
            loss = nn.functional.mse_loss(spot, y[batch]) + net.l2_penalty("spot", trunk=True)
            loss.backward()
            optimiser.step()
    return net.eval()


def train_recognition(net: MeanNet, images: np.ndarray, classes: np.ndarray, epochs: int, batch_size: int,
                      lr: float, generator: torch.Generator) -> MeanNet:
    """``model_recog.fit`` of ``MEAN_Recog_TL``: the trunk frozen (its weights and batch normalisation's moving
    statistics unchanged; Keras's graph built before the freeze still normalises a training batch by its own
    statistics and keeps the trunk's dropout), the recognition head trained, categorical cross-entropy plus its
    L2 term, Adam, batches shuffled every epoch."""
    x, y = _tensor(images), torch.from_numpy(np.asarray(classes, np.int64))
    optimiser = torch.optim.Adam(net.head_parameters("recog"), lr=lr, eps=1e-7)
    frozen = net.trunk_parameters()
    for parameter in frozen:
        parameter.requires_grad_(False)
    momenta = [norm.momentum for norm in net.norms]
    for norm in net.norms:
        norm.momentum = 0.0  # batch statistics in the forward pass, running statistics left as they are
    net.train()
    try:
        for _epoch in range(epochs):
            order = torch.randperm(len(x), generator=generator)
            for start in range(0, len(x), batch_size):
                batch = order[start:start + batch_size]
                optimiser.zero_grad()
                merged = net.trunk(x[batch])
                loss = (nn.functional.cross_entropy(net.head(merged, "recog"), y[batch])
                        + net.l2_penalty("recog", trunk=False))
                loss.backward()
                optimiser.step()
    finally:
        for norm, momentum in zip(net.norms, momenta):
            norm.momentum = momentum
        for parameter in frozen:
            parameter.requires_grad_(True)
    return net.eval()


def net_outputs(net: MeanNet, images: np.ndarray, batch: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """``model_spot_recog.predict``: each image's spotting score (N,) and emotion probabilities (N, classes)."""
    x = _tensor(images)
    scores, emotions = [np.zeros(0)], [np.zeros((0, net.recog.out_features))]
    net.eval()
    with torch.no_grad():
        for start in range(0, len(x), batch):
            spot, recog = net(x[start:start + batch])
            scores.append(spot.numpy().ravel())
            emotions.append(torch.softmax(recog, dim=1).numpy())
    return np.concatenate(scores).astype(np.float64), np.concatenate(emotions).astype(np.float64)


def choose_p(curves: dict[str, np.ndarray], truth: dict[str, list[tuple[int, int]]], k_p: int,
             grid: Sequence[float] = P_GRID) -> float:
    """The p of ``grid`` with the highest ME F1 over these videos (``curves``: each video's smoothed scores,
    ``truth``: its 0-based ME intervals) by the MEGC rule; of equal ones the closest to the authors' 0.55."""
    videos = list(curves)
    answers = [Spotted(video, onset, offset, "me") for video in videos for onset, offset in truth[video]]
    best = []
    for p in grid:
        guesses = [Spotted(video, max(0, onset), offset, "me") for video in videos
                   for onset, offset, _ in peak_intervals(curves[video], k_p, p)]
        figures = spotting_figures(video_counts(guesses, answers, videos).sum(axis=0))
        best.append((float(figures["f1_me"]), -abs(p - AUTHORS_P), -p, p))
    return max(best)[-1]


class MeanSpotter(LearnedSpotterInput):
    """MEAN per fold: ``fit(videos)`` trains the spotting net and then the recognition head on the fold's training
    videos and chooses p there (unless given); ``choose_threshold(videos)`` chooses p on other videos (the test
    fold's under ``--selection test-oracle``); ``spot_video(video)`` gives (onset, offset, "me", emotion) in the
    video's frame numbers. ``recognises``: it classifies its own intervals (``--protocol str`` needs no
    recogniser; a plain spotting run keeps the intervals)."""

    net_class = MeanNet  # what fit builds: the trunk and both heads

    recognises = True

    def __init__(self, **options: Any):
        self.options = resolve_spotter_options(options, OPTIONS, "mean")
        self.net: MeanNet | None = None
        self.k: int | None = self.options["k"]
        self.k_p: int | None = self.options["k_p"]
        self.p: float | None = None
        self._outputs: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    # what a video gives
    def _faces(self, video: Any) -> np.ndarray:
        return cached_face_video(video, FACE_SIZE, self.options["crop"], self._cache)

    def _k(self, video: Any) -> int:
        return self.k if self.k is not None else authors_k(video.fps)

    def _frame_inputs(self, video: Any) -> np.ndarray:
        """The input of every frame j = 0 … T − k − 1: the flow from frame j to j + k (through the cache)."""
        faces, flow_fields = face_flows(video, FACE_SIZE, self.options["crop"], self._k(video), self.options["flow"],
                                        self._cache, self.options["cache_flows"])
        return flow_inputs(flow_fields, faces.shape[1])

    def video_outputs(self, video: Any) -> tuple[np.ndarray, np.ndarray]:
        """The net's spotting score and emotion probabilities of each frame j = 0 … T − k − 1 (computed once)."""
        if video.id not in self._outputs:
            self._outputs[video.id] = net_outputs(self.net, self._frame_inputs(video))
        return self._outputs[video.id]

    @staticmethod
    def _positions(video: Any) -> dict[int, int]:
        return {number: index for index, number in enumerate(video.frames.indices())}

    @classmethod
    def _truth(cls, video: Any) -> list[tuple[int, int]]:
        """The video's ME intervals as 0-based positions of its frames."""
        position = cls._positions(video)
        return [(position[i.onset], position[i.offset]) for i in video.intervals if i.kind == "me"]

    @classmethod
    def _clips(cls, video: Any) -> list[tuple[int, int, int]]:
        """(onset, apex, emotion index) of each ME interval with an emotion among ``STR_EMOTIONS``, as positions;
        the apex at the midpoint where none is annotated (``mebench.run.spot_recognise.clip``)."""
        position = cls._positions(video)
        clips = []
        for interval in video.intervals:
            emotion = str_emotion(interval) if interval.kind == "me" else None
            if emotion is None:
                continue
            apex = interval.apex if interval.apex is not None and interval.onset <= interval.apex <= interval.offset \
                else (interval.onset + interval.offset) // 2
            clips.append((position[interval.onset], position[apex], STR_EMOTIONS.index(emotion)))
        return clips

    # learning
    def fit(self, videos: Sequence[Any]) -> "MeanSpotter":
        holding = [video for video in videos if video.count("me")]  # load_label: the videos with an ME only
        if not holding:
            return self  # nothing to learn from: nothing is spotted
        seed = self.options["seed"]
        if self.k_p is None:
            self.k_p = authors_k_p([i.offset - i.onset for video in holding for i in video.intervals
                                    if i.kind == "me"])
        inputs = {video.id: self._frame_inputs(video) for video in holding}
        rng = np.random.default_rng(seed)
        images = np.concatenate([inputs[video.id] for video in holding])
        labels = np.concatenate([pseudo_labels(len(inputs[video.id]), self._truth(video), self.k_p)
                                 for video in holding])
        kept = sample_down(labels, self.options["ratio"], rng)
        generator = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng(devices=[]):  # the dropout masks: drawn from the seed, the caller's state kept
            torch.manual_seed(seed)
            # Keras builds MEAN_Spot once and resets it per fold: every fold starts from the same weights
            net = MeanNet(len(STR_EMOTIONS), torch.Generator().manual_seed(seed))
            train_spotting(net, images[kept], labels[kept], self.options["epochs_spot"], self.options["batch_size"],
                           self.options["lr_spot"], generator)
            clips = [(video, clip) for video in holding for clip in self._clips(video)]
            if clips:  # the authors skip the recognition training of a fold without clips
                faces = {video.id: self._faces(video) for video in {video.id: video for video, _ in clips}.values()}
                recognition = pair_inputs_of(faces, clips, self.options["flow"])
                train_recognition(net, recognition, np.array([clip[2] for _, clip in clips]),
                                  self.options["epochs_recog"], self.options["batch_size"], self.options["lr_recog"],
                                  generator)
        self.net = net
        for video in holding:  # the training videos' outputs, from the inputs already made
            self._outputs[video.id] = net_outputs(net, inputs[video.id])
        if self.options["p"] is None:
            self.choose_threshold(videos, leaky=False)
        return self

    def choose_threshold(self, videos: Sequence[Any], leaky: bool = True) -> float | None:
        """p chosen on ``videos`` (``choose_p``); ``leaky``: on videos the spotter is scored on (``--selection
        test-oracle``), which a fixed ``--model-opt p`` refuses."""
        if self.options["p"] is not None:
            if leaky:
                raise ConfigError(f"--selection test-oracle chooses MEAN's p on the test videos, but --model-opt "
                                  f"p={self.options['p']} fixes it: leave p out or use --selection fixed")
            return self.p
        if self.net is None:
            return None
        curves = {video.id: smooth_scores(self.video_outputs(video)[0], self.k_p) for video in videos}
        self.p = choose_p(curves, {video.id: self._truth(video) for video in videos}, self.k_p)
        return self.p

    def spot_video(self, video: Any) -> list[tuple[int, int, str, str]]:
        if self.net is None:
            return []
        numbers = list(video.frames.indices())
        p = self.options["p"] if self.options["p"] is not None else self.p
        scores, emotions = self.video_outputs(video)
        return [(numbers[max(0, onset)], numbers[min(offset, len(numbers) - 1)], "me",
                 STR_EMOTIONS[peak_emotion(emotions, peak, self.k_p)])
                for onset, offset, peak in peak_intervals(smooth_scores(scores, self.k_p), self.k_p, p)]


def pair_inputs_of(faces: dict[str, np.ndarray], clips: Sequence[tuple[Any, tuple[int, int, int]]],
                   flow: str) -> np.ndarray:
    """The recognition input of each (video, (onset, apex, emotion)) clip: the flow from onset to apex."""
    return np.concatenate([pair_inputs(faces[video.id], [(onset, apex)], flow) for video, (onset, apex, _) in clips])


def build(num_classes: int, input_spec: Any, **options: Any) -> MeanSpotter:
    return MeanSpotter(**options)


REPOSITORY = "genbing99/MEAN_Spot-then-recognize"
COMMIT = "9009b5cbe83f6555957ea6aa8176477ec49ae756"
#: The authors' detailed results (README, images/detail_result.png): spotting (S) of MEs and analysis (A, the
#: spotted true positives' emotions) on the long-video databases, p = 0.55.
PUBLISHED = {"casme2-long": {"f1_me": 0.1214, "recognition_uf1": 0.5794, "recognition_uar": 0.6667},
             "samm-long": {"f1_me": 0.0949, "recognition_uf1": 0.5018, "recognition_uar": 0.4762}}
#: The same table's analysis F1-score and STRS (S F1 × A F1-score), which mebench's STRS (× UF1) does not equal.
PUBLISHED_STRS = {"casme2-long": (0.6667, 0.0809), "samm-long": (0.5263, 0.0499)}

CARD = ModelCard(
    source=Reference("Liong, G.-B.; See, J.; Chan, C.-S.",
                     "Spot-then-Recognize: A Micro-Expression Analysis Network for Seamless Evaluation of Long Videos",
                     "Signal Processing: Image Communication 110, 116875", 2023, f"https://github.com/{REPOSITORY}"),
    code=(CodeLocation(REPOSITORY, "define_model.py", "MEAN_Spot, MEAN_Recog_TL, MEAN_Spot_Recog_TL", COMMIT[:7],
                       "none stated",
                       note="with train_evaluate.py (train_test: per fold the spotting net, sampling down at ratio 5, "
                            "then the recognition net by transfer, then the combined model), training_utils.py "
                            "(smooth, spotting, recognition: Case 2), prepare_training.py (spotting_pseudo_labeling, "
                            "recognition_label: X2 the onset-to-apex flow of each ME), feature_extraction.py "
                            "(preProcess, computeStrain), load_label.py (set_k, cal_k_p, load_label: MEs only) and "
                            "main.py (epochs 10 and 100, lr 0.0005, batch 32, ratio 5, p 0.55); per-subject weights "
                            "MEAN_Weights/<database>/<spot|recog|spot_recog>/s<n>.hdf5 (Keras 2.4.0), read by "
                            "load_keras_weights"),),
    fidelity=Fidelity.ADAPTED,
    fidelity_detail="the net layer by layer as the Keras MEAN_Spot_Recog_TL (three 5 × 5 'same' stream convolutions of "
                    "3, 3 and 8 maps with ReLU, batch normalisation, 3 × 3 pools of stride 3 and dropout 0.3, "
                    "concatenation; per head a 5 × 5 convolution of 8 maps, 2 × 2 pool, channels-last flatten, "
                    "dropout 0.2 and a dense output, linear for spotting, softmax over negative, positive, surprise "
                    "for recognition; the recognition net the spotting trunk frozen with a new head; L2 0.001 and "
                    "0.1 on the kernels; Glorot-uniform kernels, zero biases); the input, pseudo-labels, sampling "
                    "down, training (Adam lr 0.0005, batch 32, 10 and 100 epochs), smoothing, peaks, intervals and "
                    "the Case 2 emotion as the authors' scripts; the landmarks are a mean face's, not dlib's "
                    "(deviations)",
    input_chain="grey frames of one long video resized to 128 × 128 (the authors crop the face with dlib's detector); "
                "per frame j the TV-L1 flow to frame j + k (k = fps × 0.1 s), strain, each channel scaled to [0, 1], "
                "eyebrow and mouth regions resampled to 42 × 42 × 3; for the recognition head's training the flow "
                "from each ME's onset to its apex",
    reference_parameters=7_608,
    reference_parameters_source="counted from the Keras layer lists of MEAN_Spot_Recog_TL as Keras's summary counts "
                                "them (moving mean and variance included): streams 5·5·1·3+3, 5·5·1·3+3, 5·5·1·8+8; "
                                "batch normalisations 4·(3+3+8); per head 5·5·14·8+8; spot 392+1; recog 392·3+3 "
                                "— and the shapes in the published .hdf5 files; 7,580 of them are PyTorch parameters "
                                "(the 28 moving statistics are buffers)",
    identification="k = fps × 0.1 s as set_k; k_p by the authors' rule (cal_k_p) over the fold's training ME intervals; "
                   "p chosen on the fold's training videos from 0.05 … 0.95 (ties: nearest the authors' 0.55) unless "
                   "--model-opt p is given; --selection test-oracle (LEAKY) chooses it on the test videos as the "
                   "authors did",
    deviations=(
        "p: the authors fix 0.55 (main.py, p=0.55) for every database, SOFTNet's value (\"From our analysis, 0.55 "
        "achieved the highest F1-Score\", SOFTNet's training.py, of the databases it evaluates); MEAN's code "
        "chooses it on no other videos: LEAKY. mebench chooses p on the training videos (scored with the net trained on them, so "
        "optimistic); --selection test-oracle reproduces the leaky choice",
        "k_p: the authors compute it over every ME of the database (test subjects included); mebench over the fold's "
        "training videos (at least 1). k: fps × 0.1 s rounded from the video's frame rate, where the authors "
        "write 3 (CAS(ME)²) and 20 (SAMM-LV)",
        "landmarks: the authors run dlib's 68-point predictor on the first frame of each video; mebench (no dlib) "
        "places the same landmarks at a mean face's positions (softnet.MEAN_LANDMARKS) in every 128 × 128 face; the "
        "face crop is OpenCV's Haar cascade (video_input.face_video) where the authors use dlib's detector",
        "flow: OpenCV's Dual TV-L1 with its defaults as the authors; their cartToPolar and back (pol2cart) is left "
        "out (it gives u and v again up to rounding); --model-opt flow=dis or rlof names another configuration",
        "sampling down: where ratio × the smaller class exceeds the label-0 frames yet not all frames, the authors' "
        "random.sample fails; mebench keeps every label-0 frame",
        "batch normalisation during the recognition training: the authors freeze the trunk after Keras (TF 2.4, v2 "
        "behaviour disabled) built its graph, so a training batch is normalised by its own statistics while the "
        "moving statistics stay; mebench does the same (momentum 0 in that phase), with the trunk's dropout kept",
        "optimiser state: the authors reuse one Adam object per net across folds (its moments and step count carry "
        "over); mebench starts each fold's optimisers afresh. The recognition head starts from the seed's weights in "
        "every fold where Keras draws new ones",
        "recognition clips: mebench's ME intervals with an emotion among negative, positive, surprise (str_emotion); "
        "an interval without an annotated apex takes its midpoint (the authors' sheets give apexes)",
        "intervals: [peak − k_p, peak + k_p] clipped to the video's frames (the authors keep a negative onset); a "
        "video without a peak gets no interval where the authors score a dummy [0, 0]",
        "evaluation: mebench scores every video by the MEGC rule and its STRS is spotting F1 × recognition UF1; the "
        "authors' STRS multiplies spotting F1 by the analysis F1-score (2PR / (P + R) of the per-emotion mean "
        "precision and recall)",
        "random numbers: numpy's and torch's generators (seed option) in place of Python's random.seed(1) and Keras's",
    ),
    reported=tuple(ReportedFigures(
        source=f"Liong et al. 2023, detailed results ({REPOSITORY} README, images/detail_result.png)", dataset=database,
        protocol="str", selection="LEAKY: p = 0.55 chosen on the evaluated videos", kind="spot-then-recognise",
        figures=dict(PUBLISHED[database]),
        note=f"MEs only (spotting F1 of MEs; recognition on the spotted true positives, three emotions); the table's "
             f"analysis F1-score {PUBLISHED_STRS[database][0]} and STRS {PUBLISHED_STRS[database][1]} (spotting F1 × "
             f"that F1-score)")
        for database in PUBLISHED),
)


@hookimpl
def mebench_register_models(register):
    register(ModelSpec(
        name="mean",
        factory=build, input_spec=InputSpec(1, 1, 1, scaling="none"), preprocessing=(),
        description="MEAN (Liong et al., 2023), the MEGC2025 spot-then-recognise baseline: a multi-stream shallow CNN "
                    "spotting MEs and, by transfer from its spotting trunk, recognising their emotion; p chosen on "
                    "the training videos",
        card=CARD, family="spotters", learner="spotter", options=OPTIONS,
    ))
