"""The preprocessing item's keys: what each holds, in one place.

A chain passes one item dict from step to step. It starts as ``{"sample": Sample}`` (set by the
runner) and must end with ``"image"`` (read by the runner); every built-in step declares the keys
it needs and gives (``PreprocessingStep.needs``/``gives``) and the notes it may record
(``PreprocessingStep.notes``) in these names, and ``build_chain`` checks the order at planning.
A third-party step that reads a built-in step's output uses the same names.
"""

from __future__ import annotations

#: Every key a built-in step reads or writes → what it holds.
ITEM_KEYS: dict[str, str] = {
    "sample": "the Sample being preprocessed (set by the runner before the first step)",
    "onset_frame": "the onset frame, (H, W) grey or (H, W, 3) uint8, cropped to the face where face_crop crops",
    "apex_frame": "the frame the flow goes to (the apex, or the middle frame), as onset_frame",
    "apex_index": "the frame number of apex_frame (a note: kept per sample)",
    "target_rule": "the rule that chose apex_frame: annotated, max_motion or middle",
    "face_box": "the (top, bottom, left, right) face box the frames were cropped to, or None",
    "face_cropped": "whether the frames were cropped to a face (a note: counted in run.json)",
    "face_missed": "True where no face was found and the whole frames were kept (a note: listed in run.json)",
    "flow": "onset → apex_frame optical flow, (H, W, 2) float32: u, v in pixels of the pre-flow grid",
    "strain": "the optical strain of flow, (H, W) float32",
    "frames": "the grey frame sequence from onset to offset, (T, H, W) uint8",
    "frame_indices": "the frame numbers of the sequence as read (before any interpolation)",
    "landmarks_fallback": "True where the landmark detector found no face and the fixed landmarks were used "
                          "(a note: counted in run.json)",
    "image": "the model input, (H, W, C) float32, or (1, 1, D) for a feature vector (read by the runner)",
}
