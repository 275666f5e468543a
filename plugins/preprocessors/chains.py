"""The input chains the built-in models declare, one named constant per kind of input.

Every chain starts from the onset frame and a target frame, crops to the face where the dataset
copy is not already cropped, and computes TV-L1 flow at a common 128×128 face size (see
``optical_flow.py``); they differ in the target frame, the channels and their normalisation. The
runner resizes the chain's image to the model's declared input size.
"""

from __future__ import annotations

#: onset and apex frames (annotated apex, else the frame of maximum motion), face crop where the copy
#: is not cropped, TV-L1 flow at 128×128
ONSET_APEX_FLOW = ("apex_frame", ("face_crop", {"when": "auto", "on_miss": "keep"}), ("tvl1_flow", {"size": 128}))
#: the same from the onset to the middle frame (midway between onset and offset), as Dual-Inception's authors
ONSET_MIDDLE_FLOW = (("apex_frame", {"target": "middle"}),) + ONSET_APEX_FLOW[1:]

#: (u, v, strain) in pixels of the 128 grid, no per-sample normalisation
FLOW_UVS = ONSET_APEX_FLOW + ("optical_strain", ("flow_stack", {"channels": "u,v,strain"}))
#: (u, v, strain), each channel min-max normalised per sample, as 8-bit flow images are (STSTNet)
FLOW_UVS_MINMAX = ONSET_APEX_FLOW + ("optical_strain", ("flow_stack", {"channels": "u,v,strain", "normalise": "minmax"}))
#: (u, v) in pixels of the 128 grid (OFF-ApexNet's two streams)
FLOW_UV = ONSET_APEX_FLOW + (("flow_stack", {"channels": "u,v"}),)
#: (u, v) onset → middle frame, each min-max normalised per sample (Dual-Inception)
FLOW_UV_MIDDLE_MINMAX = ONSET_MIDDLE_FLOW + (("flow_stack", {"channels": "u,v", "normalise": "minmax"}),)

#: How the chains above begin, in words, for model cards.
ONSET_APEX_TEXT = ("onset → apex frames (annotated apex, else max motion); face crop where the copy is not cropped; "
                   "128×128 before TV-L1")

# --- inputs of the nets and baselines of issue 22 ------------------------------------------------------------
# (RCN at 60×60, SSSNet at 64×64 and IncepTR at 28×28 read FLOW_UVS_MINMAX: the runner resizes a chain's
# image to the model's declared input size, so a size is not a new chain.)

#: Off-TANet's input: onset and apex frames resized to 112×112 before TV-L1 (its authors' size), flow in
#: pixels of that grid (no normalisation), and its own Sobel "strain" variant as the third channel
FLOW_UVS_112_OFFTANET = ONSET_APEX_FLOW[:2] + (("tvl1_flow", {"size": 112}), ("optical_strain", {"form": "offtanet"}),
                                               ("flow_stack", {"channels": "u,v,strain"}))
#: HTNet's input: the min-max normalised (u, v, strain) image at 28×28, cut into the four 14×14 patches around
#: the eyes and mouth corners of the authors' fallback landmarks and tiled back to 28×28
HTNET_PATCHES = FLOW_UVS_MINMAX + (("htnet_patches", {"landmarks": "fixed", "swap_xy": True}),)
#: the same around the landmarks the authors' MTCNN finds on the 28×28 apex frame (their fallback landmarks where
#: it finds no face); needs the optional facenet-pytorch
HTNET_PATCHES_MTCNN = FLOW_UVS_MINMAX + (("htnet_patches", {"landmarks": "mtcnn", "swap_xy": True}),)
#: the grey frames of the sample's span, face-cropped where the copy is not, at 128×128
GREY_SEQUENCE = (("grey_sequence", {"size": 128, "face_crop": "auto"}),)
#: the MEGC2019 baseline's features: TIM to 10 frames, block LBP-TOP with P = 4, radii (x 1, y 1, t 4), 5×5 blocks
LBP_TOP_TIM10 = GREY_SEQUENCE + (("tim", {"frames": 10}),
                                 ("lbp_top", {"points": 4, "radius_x": 1.0, "radius_y": 1.0, "radius_t": 4.0,
                                              "blocks": 5}))
#: Bi-WOOF over onset → apex flow and its optical strain, 5×5 blocks, 8 orientation bins
BI_WOOF = ONSET_APEX_FLOW + ("optical_strain", ("bi_woof", {"blocks": 5, "bins": 8}))


def grey_clip(frames: int) -> tuple:
    """A video net's input: the grey frames of the sample's span (``GREY_SEQUENCE``) interpolated by TIM to
    ``frames`` frames, one channel per frame in [0, 1] (the runner resizes them to the net's size)."""
    return GREY_SEQUENCE + (("tim", {"frames": frames}), "clip_channels")


#: How the sequence chains begin, in words, for model cards.
GREY_SEQUENCE_TEXT = ("the sample's frames from onset to offset, grey; face crop where the copy is not cropped; "
                      "128×128")
