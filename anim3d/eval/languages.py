"""Lip sync per language: held-out synthetic voices with exact phone timings (corpora made by ``anim3d data synth
--language CODE``; their validation split, voices the corpus holds out), each line animated from its audio alone
and with its script, scored against the teacher's motion on the exact phones (``anim3d.eval.synthetic.score``):
bilabial closure on the p, b and m the voice said (the open head's lips within 2 mm, +/- 1 frame of the phone's
middle) and lip vertex error against the teacher. The shipped model learnt from English voices only, so every
other language's voices are new to it.
"""

from __future__ import annotations

import numpy as np

from anim3d.eval.synthetic import SynthUtterance, score

METHODS = ("audio only", "with the script")


def language_utterances(root: str, limit: int) -> tuple[str, list[tuple[SynthUtterance, str]]]:
    """(language code, up to ``limit`` (utterance, its text) of the validation split of the corpus at ``root``)."""
    from anim3d.data.shards import ShardDataset
    from anim3d.errors import InputError

    out, language = [], None
    for k, u in enumerate(ShardDataset(root, split="val")):
        if k >= limit:
            break
        labels = u.labels or {}
        language = language or labels.get("language", "en")
        controls = {key: labels[key] for key in ("emotion", "intensity") if key in labels}
        out.append((SynthUtterance(f"{u.id} ({u.voice})", u.audio, u.motion, list(u.phones), controls), u.text))
    if not out:
        raise InputError(root, "the corpus has no validation utterances")
    return language, out


def evaluate_language(root: str, gen, limit: int = 40, seed: int = 0) -> dict:
    """One corpus -> per method: pooled bilabial closure (rate, count), mean lip vertex error (mm); and the share
    of lines whose script was aligned (not judged a mismatch)."""
    import warnings

    from anim3d.errors import InputWarning
    from anim3d.inference import animate

    language, utts = language_utterances(root, limit)
    rows = {m: [] for m in METHODS}
    aligned = 0
    for u, text in utts:
        rows[METHODS[0]].append(score(u, METHODS[0], animate(u.audio, checkpoint=gen, seed=seed, **u.controls)))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", InputWarning)
            m = animate(u.audio, checkpoint=gen, seed=seed, text=text, language=language, **u.controls)
        aligned += not any(issubclass(w.category, InputWarning) for w in caught)
        rows[METHODS[1]].append(score(u, METHODS[1], m))
    out = {"language": language, "corpus": root, "lines": len(utts), "aligned": aligned / len(utts)}
    for method, results in rows.items():
        hits = sum(r.closure[0] * r.closure[1] for r in results if r.closure[1])
        n = sum(r.closure[1] for r in results)
        out[method] = {"closure": hits / n if n else float("nan"), "bilabials": n,
                       "lve_mm": 1000 * float(np.nanmean([r.lve for r in results]))}
    return out


def languages_section(rep, roots: list[str], gen, *, limit: int = 40, seed: int = 0, progress: bool = True) -> list[dict]:
    """Add the per-language table to ``rep``; returns ``evaluate_language``'s rows."""
    from anim3d.eval.report import table
    from anim3d.progress import progress as bar

    rows = [evaluate_language(r, gen, limit, seed) for r in (bar(roots, desc="languages", unit="corpus") if progress else roots)]
    rep.add("## Lip sync per language", __doc__.replace("\n", " ").strip())
    rep.add(table(["language", "lines", "p/b/m", "closure, audio only", "closure, with the script", "LVE mm, audio only",
                   "LVE mm, with the script", "scripts aligned"],
                  [[r["language"], r["lines"], r[METHODS[0]]["bilabials"], r[METHODS[0]]["closure"], r[METHODS[1]]["closure"],
                    r[METHODS[0]]["lve_mm"], r[METHODS[1]]["lve_mm"], r["aligned"]] for r in rows]))
    return rows
