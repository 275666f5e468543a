"""SMIC-HS as distributed: ``HS/s1/micro/{negative,positive,surprise}/s1_ne_01/*.bmp`` (not cropped to
the face) or the widely shared face-cropped copy under ``SMIC_all_cropped/HS``; ``Clip.cropped`` says
which was read. No apex is annotated; onset and offset are the first and last frames. Folder names
are unpadded (``s3_po_08``) where the MEGC2019 list pads them (``s03_po_08``).

Reference: Li et al., A Spontaneous Micro-Expression Database: Inducement, Collection and
Baseline, IEEE FG 2013.
"""

from __future__ import annotations

import re
from pathlib import Path

from mebench.errors import DataError
from mebench_plugins.datasets.formats import Clip, three_class

CLIP_NAME = re.compile(r"^s(\d+)_([a-z]+)_(\d+)$")
#: Layouts in order of preference, each with whether its frames are already cropped to the face.
HS_FOLDERS = {"HS": False, "SMIC_all_cropped/HS": True}


def read_smic(root: Path) -> list[Clip]:
    root = Path(root)
    layout = next((name for name in HS_FOLDERS if (root / name).is_dir()), None)
    if layout is None:
        raise DataError(root, "no SMIC-HS folder HS/ or SMIC_all_cropped/HS/",
                        "point --data-root at the folder holding SMIC/ (or --dataset-opt smic_root=DIR)")
    hs = root / layout
    clips = []
    for subject_dir in sorted(p for p in hs.iterdir() if p.is_dir()):
        micro = subject_dir / "micro"
        if not micro.is_dir():
            raise DataError(subject_dir, "subject folder has no micro/ folder", "restore it from your copy")
        for emotion_dir in sorted(p for p in micro.iterdir() if p.is_dir()):
            label = three_class("smic", emotion_dir.name, emotion_dir)
            for clip_dir in sorted(p for p in emotion_dir.iterdir() if p.is_dir()):
                match = CLIP_NAME.match(clip_dir.name)
                if not match:
                    raise DataError(clip_dir, "clip folder name is not like s1_ne_01", "rename it as distributed")
                subject = f"s{int(match.group(1)):02d}"
                clips.append(Clip(
                    dataset="smic", subject=f"smic/{subject}", name=f"{subject}_{match.group(2)}_{match.group(3)}",
                    emotion=emotion_dir.name, label=label, onset=None, apex=None, offset=None,
                    folder=clip_dir, source=str(clip_dir), row=None, cropped=HS_FOLDERS[layout], annotated=False,
                ))
    return clips
