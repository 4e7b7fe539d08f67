"""The real-speaker sections of ``anim3d eval``'s report: lip sync per clip, speaker and tier with
intervals, AV offsets with their confidence, timing, lips shut, openings per phone class, and the
speaker-held-out folds."""

from __future__ import annotations

import numpy as np

from anim3d.eval.articulation import EYE_SPAN_MM, PHONE_CLASSES, SHUT_MM
from anim3d.eval.report import Report, fmt, plot_bars, plot_mouth_curves, table
from anim3d.eval.real_summary import (REAL, class_means, method_summary, methods_of, per_speaker, per_tier,
                                      seed_means)
from anim3d.eval.stats import LEVEL, RESAMPLES


def _ci(e) -> str:
    return str(e) if e.n else "n/a"


def describe(rep: Report, source: str, videos, max_seconds, max_lag: int, dp_smooth: int) -> None:
    """What the real-speaker section measures and how."""
    rep.add(
        "## Real speakers",
        f"{len(videos)} videos from `{source}`" + (f" (first {max_seconds:g} s each)" if max_seconds else "")
        + ". Ground truth: MediaPipe Face Mesh inner-lip gap (13/14) over the inter-ocular distance (33/263). "
        "Speakers: the `speaker_group` of the clip's manifest row, else the file name without a trailing clip number.",
        "Lip-sync columns (Pearson r of a method's mouth opening with the tracked one; mean over clips, each clip's "
        f"mean over seeds; [{100 * LEVEL:.0f}% interval] from {RESAMPLES} bootstrap draws **over speakers** (a drawn speaker "
        "brings all of their clips), so clips of one speaker do not count as independent evidence):",
        "- **r (lag 0)**: frames compared as they are in the file;",
        "- **r (AV offset)**: the method's curve shifted by the clip's audio-video offset, one lag per clip and the same for "
        "every method, estimated from the clip alone (speech-band energy and its onsets against the tracked mouth, "
        "`anim3d.eval.avsync`; the offset table says which rule chose it and how confident it is). The fair lip-sync number;",
        f"- **r (best lag)**: the method's own best lag within +/-{max_lag} frames: an upper bound that rewards being early or late.",
        "Timing: **DTW** = mean signed frame offset (ms) of the dynamic-time-warping path between the z-scored generated and "
        f"tracked openings after the AV offset (band +/-{max_lag} frames; > 0: the generated mouth is late), and its mean "
        "|offset|; it follows local timing and is finer than a frame. **xcorr** = median over clips of (best lag - AV offset) "
        "in ms, the single whole-frame shift of the cross-correlation peak.",
        f"Lips shut: share of frames with the opening below {SHUT_MM:g} mm (open head inner-lip gap; tracked gap below "
        f"{SHUT_MM:g}/{EYE_SPAN_MM:g} of the outer-eye-corner span). dP = mean frame-to-frame head rotation (deg/frame at "
        f"30 fps, VASA-1), raw and after a Savitzky-Golay filter over {dp_smooth} frames; blinks per minute.",
    )


def offsets_table(rep: Report, offsets: dict, infos: dict) -> None:
    rows = []
    for c, o in offsets.items():
        rows.append([c, infos[c].group, infos[c].tier or "-", f"{o.lag:+d}", f"{1000 * o.lag / o.fps:+.0f}", o.used, o.confidence,
                     f"{o.energy_lag:+d}", f"{o.onset_lag:+d}", o.sharpness, o.r, o.r0])
    used = {u: sum(o.used == u for o in offsets.values()) for u in ("full window", "tight window", "lag 0")}
    rep.add(
        "### Audio-video offset per clip",
        "Estimated from the audio and the tracked mouth only (no method); > 0: the audio track is late relative to the video. "
        "Used: **full window** (confidence high) when the speech-energy lag and the onset lag agree within 1 frame inside "
        "+/-10 frames, the lag is not at the window's edge and its peak beats every lag 3+ frames away by >= 0.03 "
        "(sharpness); else **tight window** (medium) when both agree within +/-3 frames; else **lag 0** (low). "
        f"This run: {', '.join(f'{v} {k}' for k, v in used.items())}.",
        table(["clip", "speaker", "tier", "offset used (frames)", "ms", "rule", "confidence", "energy lag (+/-10)",
               "onset lag (+/-10)", "sharpness", "r(energy, mouth) at offset", "at lag 0"], rows),
    )


def summary_tables(rep: Report, results, infos: dict) -> list[dict]:
    methods = methods_of(results)
    summary = [method_summary(results, infos, m) for m in methods]
    rep.add(
        "### Summary (mean over clips)",
        table(["method", "clips", "speakers", "r (lag 0)", "r (AV offset)", "r (best lag)", "r (AV offset), mean over speakers",
               "timing DTW (ms)", "|DTW| (ms)", "xcorr (ms)", "lips shut", "dP", "dP smoothed", "blinks/min", "mouth from"],
              [[s["method"], s["clips"], s["speakers"], _ci(s["r"]), _ci(s["r_av"]), _ci(s["r_best"]), s["r_av_speakers"],
                f"{s['timing_ms']:+.0f}" if np.isfinite(s["timing_ms"]) else "-", fmt(s["timing_abs_ms"], 0),
                f"{s['xcorr_ms']:+.0f}" if s["method"] != REAL else "-", s["shut"], s["dp"], s["dp_smooth"],
                f"{s['blinks']:.1f}", s["source"]] for s in summary]),
    )
    gen = [m for m in methods if m != REAL]
    tiers = sorted({t for m in gen for t in per_tier(results, infos, m)})
    rep.add(
        "### r (AV offset) per tier",
        "Tier from the manifest (A: one frontal speaker; B: usable with caveats; C: marginal; -: not listed).",
        table(["method", *[f"tier {t} (n={per_tier(results, infos, gen[0]).get(t, (0, 0))[1]})" for t in tiers]],
              [[m, *[per_tier(results, infos, m).get(t, (float("nan"), 0))[0] for t in tiers]] for m in gen]),
    )
    means = {m: class_means(results, m) for m in methods}
    rep.add(
        "### Opening per phone class",
        "Phones recognised in the audio (pocketsphinx words + forced alignment, `anim3d.phonetic`); per clip, each curve "
        "divided by its own 95th percentile, each phone the mean over its middle frame +/- 1 (the tracked mouth read at the "
        "clip's AV offset), the class the mean over its phones; the table is the mean over clips (phones in all). "
        "Classes: " + "; ".join(f"{c}: {' '.join(sorted(v))}" for c, v in PHONE_CLASSES.items()) + ".",
        table(["method", *[f"{c} (n={means[methods[0]][c][1]})" for c in PHONE_CLASSES]],
              [[m, *[means[m][c][0] for c in PHONE_CLASSES]] for m in methods]),
    )
    seeded = {m: seed_means(results, m) for m in gen}
    if any(len(v) > 1 for v in seeded.values()):
        seeds = sorted({s for v in seeded.values() for s in v})
        rep.add("### r (AV offset) per seed",
                table(["method", *[f"seed {s}" for s in seeds]],
                      [[m, *[v.get(s, float("nan")) if len(v) > 1 else "-" for s in seeds]] for m, v in seeded.items()]))
    return summary


def speaker_table(rep: Report, results, infos: dict) -> None:
    gen = [m for m in methods_of(results) if m != REAL]
    per = {m: per_speaker(results, infos, m) for m in gen}
    groups = sorted(per[gen[0]])
    counts = {g: sum(i.group == g for c, i in infos.items() if c in {r.clip for r in results}) for g in groups}
    rep.add("### r (AV offset) per speaker",
            table(["speaker", "clips", *gen], [[g, counts[g], *[per[m][g] for m in gen]] for g in groups]))


def clip_table(rep: Report, results, infos: dict) -> None:
    rows = [[r.clip, infos[r.clip].group, r.method, r.seed, r.r, f"{r.r_av:.3f} ({r.av_lag:+d})" if r.method != REAL else "1.000",
             r.r_best, f"{r.lag:+d}", fmt(r.timing_ms, 0), r.shut, r.dp_smooth, f"{r.blinks:.1f}"] for r in results]
    rep.add("### Per clip", table(["clip", "speaker", "method", "seed", "r (lag 0)", "r (AV offset, lag)", "r (best lag)",
                                   "best lag", "DTW (ms)", "lips shut", "dP smoothed", "blinks/min"], rows))


def plots(rep: Report, results, summary: list[dict], goal: float) -> None:
    gen = [s for s in summary if s["method"] != REAL]
    plot_bars("lip sync on real speakers", [s["method"] for s in gen],
              {"r (lag 0)": [s["r"].mean for s in gen], "r (AV offset)": [s["r_av"].mean for s in gen],
               "r (best lag)": [s["r_best"].mean for s in gen]},
              "Pearson r", rep.path("real_lipsync.png"), hline=(goal, "goal"))
    rep.image("real_lipsync.png", "lip-sync correlation per method")
    for clip in dict.fromkeys(r.clip for r in results):
        rows = [r for r in results if r.clip == clip]
        curves = {r.method: r.curve for r in rows if r.seed == rows[0].seed}
        name = f"mouth_{clip}.png"
        plot_mouth_curves(clip, curves, rows[0].fps, rep.path(name))
        rep.image(name, f"mouth opening {clip}")


def folds_section(rep: Report, fold_results, summary: dict) -> None:
    """The speaker-held-out protocol's result: per fold and the mean over folds."""
    names = list(summary)
    rep.add(
        "## Speaker-held-out folds",
        f"{len(fold_results)} folds of whole speaker groups (docs/evaluation.md). Each candidate is fitted on the other folds' "
        "clips (fixed candidates ignore them) and scored on the fold's clips: mean r at the AV offset.",
        table(["fold", "clips", "speakers", *names],
              [[r.fold + 1, len(r.clips), len(r.groups), *[r.scores[n] for n in names]] for r in fold_results]),
        "",
        table(["candidate", "mean over folds", "sd over folds", "min", "max", "mean over clips (each held out)"],
              [[n, summary[n]["mean"], summary[n]["sd"], summary[n]["min"], summary[n]["max"], summary[n]["clips"]]
               for n in names]),
    )
    chosen = [[r.fold + 1, n, r.chosen[n], r.notes[n]] for r in fold_results for n in r.chosen]
    if chosen:
        rep.add("What the fitted candidates chose on the training folds:",
                table(["fold", "candidate", "chose", "training scores"], chosen))
