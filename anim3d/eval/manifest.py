"""Who speaks in each evaluation clip: a manifest (tab-separated, one row per clip) or, without
one, the clip's name.

A manifest has a ``file`` column (the clip's file name) and a ``speaker_group`` column (one
id per speaker: the unit of held-out folds) or at least ``speaker``; ``tier``, ``language``,
``license_note``, ``repo``, ``path`` and ``transcript`` (the words the clip says) are read when present. It is found beside the clips
(``DIR/manifest.tsv``) or one folder up (``DIR/../manifest.tsv``), or given.

A clip no manifest lists belongs to the speaker named by its file name without a trailing
clip number (``Obama_clip2.mp4`` -> ``obama``, ``talk_3.mp4`` -> ``talk``): clips that differ
only by their number are taken to be one speaker. Grouping too many clips together can only
make held-out folds stricter; splitting one speaker across folds would leak.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

from anim3d.errors import InputError

MANIFEST = "manifest.tsv"
_CLIP_NUMBER = re.compile(r"([_\- ]?(clip|part|take)?[_\- ]?\d+)$", re.IGNORECASE)


@dataclass(frozen=True)
class ClipInfo:
    file: str  # file name
    speaker: str  # speaker description
    group: str  # speaker id for folds
    tier: str = ""  # quality tier (A/B/C) when the manifest says
    language: str = ""
    listed: bool = True  # False: taken from the file name
    licence: str = ""  # the manifest's licence note, when it has one
    source: str = ""  # where the clip comes from (the manifest's repo and path), when it says
    transcript: str = ""  # the words the clip says, when the manifest knows them


def find_manifest(folder: str | os.PathLike) -> Path | None:
    """``folder/manifest.tsv`` or ``folder/../manifest.tsv``, whichever exists first."""
    folder = Path(folder)
    for cand in (folder / MANIFEST, folder.parent / MANIFEST):
        if cand.is_file():
            return cand
    return None


def read_manifest(path: str | os.PathLike) -> dict[str, ClipInfo]:
    """File name -> ClipInfo. InputError naming the manifest when it cannot be read or lacks the
    ``file`` column and both speaker columns."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
    except FileNotFoundError:
        raise InputError(path, "manifest not found") from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(path, f"cannot read the manifest ({e})") from None
    columns = set(rows[0]) if rows else set()
    if "file" not in columns or not ({"speaker_group", "speaker"} & columns):
        raise InputError(path, "not a clip manifest: needs tab-separated columns 'file' and 'speaker_group' (or 'speaker')")
    out = {}
    for row in rows:
        name = (row.get("file") or "").strip()
        if not name:
            continue
        speaker = (row.get("speaker") or "").strip()
        group = (row.get("speaker_group") or "").strip() or speaker or name
        source = "/".join(x for x in ((row.get("repo") or "").strip(), (row.get("path") or "").strip()) if x)
        out[name] = ClipInfo(name, speaker or group, group, (row.get("tier") or "").strip(),
                             (row.get("language") or "").strip(), licence=(row.get("license_note") or "").strip(),
                             source=source, transcript=(row.get("transcript") or "").strip())
    return out


def group_from_name(name: str) -> str:
    """Speaker id of an unlisted clip: its stem, lower case, without a trailing clip number."""
    stem = Path(name).stem.lower().strip()
    base = _CLIP_NUMBER.sub("", stem).strip("_- ")
    return base or stem


def clip_infos(videos: list[Path], manifests: list[dict[str, ClipInfo]]) -> dict[str, ClipInfo]:
    """Clip stem -> ClipInfo for each video: its row in the first manifest that lists it, else
    from its name."""
    out = {}
    for v in videos:
        info = next((m[v.name] for m in manifests if v.name in m), None)
        if info is None:
            group = group_from_name(v.name)
            info = ClipInfo(v.name, group, group, listed=False)
        out[v.stem] = info
    return out


def load_manifests(folders: list[str | os.PathLike], given: list[str | os.PathLike] | None = None) -> list[dict[str, ClipInfo]]:
    """The given manifests (each must exist), then each folder's own, if any."""
    paths = [Path(p) for p in (given or [])]
    for folder in folders:
        found = find_manifest(folder)
        if found is not None and found not in paths:
            paths.append(found)
    return [read_manifest(p) for p in paths]
