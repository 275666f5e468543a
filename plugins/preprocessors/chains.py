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
