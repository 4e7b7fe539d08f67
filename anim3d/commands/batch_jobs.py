"""The work of ``anim3d batch``: read and check a manifest, key each line, skip the lines already done, animate
the rest in worker processes (the model loaded once per worker), record each line's outcome.

- A line's key is the SHA-256 of its audio file's bytes, its resolved settings (controls, output format, frame
  rate), the checkpoint's identity (the SHA-256 of its config and weight files) and the anim3d version.
- After a line's outputs are complete (written atomically, all or none: ``anim3d.fileio.output_group``), its
  record ``DIR/.anim3d-batch/<output>.json`` is written (atomically too) with the key. A line is skipped when its
  record's key matches and every file it writes exists; otherwise it is (re)done.
- ``DIR/batch_results.csv``: one row per line, ok / skipped / failed, the error, seconds.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import threading
import time
from dataclasses import dataclass, field

from anim3d import __version__
from anim3d.commands.animate import FORMATS
from anim3d.commands.options import LANGUAGE_CODES
from anim3d.errors import Anim3dError, InputError

STATE_DIR = ".anim3d-batch"
RESULTS = "batch_results.csv"
COLUMNS = ("audio", "output", "emotion", "intensity", "seed", "gaze", "distance", "style", "text", "language")
SEED_MAX = 2**32 - 1  # anim3d.inference.settings.SEED_MAX (named here: the main process stays torch-free)
DISTANCE_MAX = 0.3  # anim3d.inference.settings.DISTANCE_MAX
FPS = 30.0  # animate's default output frame rate


@dataclass
class Line:
    row: int  # 1 = the first line under the header
    audio: str  # as the manifest gives it
    audio_path: str  # resolved against the manifest's folder
    output: str  # normalised, relative to --out
    settings: dict  # emotion, intensity, seed, gaze (degrees or None: free), distance, style (as given), text, language
    style_path: str | None = None  # the style take resolved against the manifest's folder
    key: str | None = None
    status: str = ""
    error: str = ""
    seconds: float = 0.0
    files: list = field(default_factory=list)


# ---------------------------------------------------------------- the manifest


def read_manifest(manifest: str, out_dir: str, fmt: str = "npz", default_seed: int = 0) -> list[Line]:
    """Every line of a CSV/TSV manifest or a folder of audio files, checked; a problem raises one ``InputError``
    naming the manifest and the row."""
    if os.path.isdir(manifest):
        raw = _folder_rows(manifest, fmt)
    elif not os.path.exists(manifest):
        raise InputError(manifest, "manifest not found")
    else:
        raw = _table_rows(manifest)
    if not raw:
        raise InputError(manifest, "no lines to animate" + (" (no audio files in the folder)" if os.path.isdir(manifest) else ""))
    base = os.path.dirname(os.path.abspath(manifest)) if not os.path.isdir(manifest) else os.path.abspath(manifest)
    lines, seen = [], {}
    for row, where, cells in raw:
        def bad(problem: str):
            return InputError(manifest, f"{where}: {problem}")

        try:
            line = _line(row, cells, base, default_seed)
        except ValueError as e:
            raise bad(str(e)) from None
        key = os.path.normcase(line.output)
        if key in seen:
            raise bad(f"output {line.output!r} is also written by row {seen[key]}; each line needs its own output")
        seen[key] = row
        lines.append(line)
    read = {os.path.realpath(p): (x, what) for x in lines for p, what in ((x.audio_path, "audio"), (x.style_path, "style take")) if p}
    for line, (_, where, _) in zip(lines, raw):
        for f in _files(out_dir, line.output):
            if os.path.realpath(f) in read:
                other, what = read[os.path.realpath(f)]
                raise InputError(manifest, f"{where}: output {os.path.relpath(f, out_dir)!r} would overwrite the {what} of "
                                           f"row {other.row}; anim3d never writes to a file it reads")
    return lines


def _table_rows(manifest: str) -> list[tuple[int, str, dict]]:
    try:
        with open(manifest, newline="", encoding="utf-8-sig") as f:
            text = f.read()
    except UnicodeDecodeError:
        raise InputError(manifest, "not a UTF-8 text file (a CSV or TSV manifest, or a folder of audio)") from None
    except OSError as e:
        raise InputError(manifest, f"cannot be read ({e.strerror or e})") from None
    ext = os.path.splitext(manifest)[1].lower()
    if ext == ".tsv":
        delimiter = "\t"
    elif ext == ".csv":
        delimiter = ","
    else:
        try:
            delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",\t;").delimiter
        except csv.Error:
            delimiter = ","
    reader = csv.reader(text.splitlines(), delimiter=delimiter)
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise InputError(manifest, "row 0 (the header): empty; the first line names the columns, e.g. audio,output,emotion")
    names = [h.strip().lower().replace("-", "_") for h in header]
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise InputError(manifest, f"the header: unknown column {unknown[0]!r} (columns: {', '.join(COLUMNS)})")
    for need in ("audio", "output"):
        if need not in names:
            raise InputError(manifest, f"the header: missing column {need!r} (it has: {', '.join(names)})")
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise InputError(manifest, f"the header: column {dup!r} appears twice")
    rows = []
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        where = f"row {len(rows) + 1} (line {reader.line_num})"
        if len(cells) > len(names):
            raise InputError(manifest, f"{where}: {len(cells)} cells but the header names {len(names)} columns")
        rows.append((len(rows) + 1, where, {n: c.strip() for n, c in zip(names, cells)}))
    return rows


def _folder_rows(folder: str, fmt: str) -> list[tuple[int, str, dict]]:
    from anim3d.audio import MEDIA_EXTENSIONS

    names = sorted(n for n in os.listdir(folder)
                   if os.path.splitext(n)[1].lower() in MEDIA_EXTENSIONS and os.path.isfile(os.path.join(folder, n)))
    return [(i + 1, f"row {i + 1} ({n})", {"audio": n, "output": f"{os.path.splitext(n)[0]}.{fmt}"})
            for i, n in enumerate(names)]


def _line(row: int, cells: dict, base: str, default_seed: int) -> Line:
    """One manifest row as a Line; ValueError names the problem."""
    from anim3d.emotions import EMOTIONS

    audio = cells.get("audio", "")
    if not audio:
        raise ValueError("no audio file given")
    output = cells.get("output", "")
    if not output:
        raise ValueError("no output file given")
    if os.path.splitext(output)[1].lower() not in FORMATS:
        raise ValueError(f"output {output!r}: unknown format (use {', '.join(FORMATS)})")
    norm = os.path.normpath(output.replace("\\", "/"))
    parts = norm.split(os.sep)
    if os.path.isabs(norm) or ".." in parts:
        raise ValueError(f"output {output!r} is outside --out; give a file name relative to --out, without '..'")
    if parts[0] == STATE_DIR or norm == RESULTS:
        raise ValueError(f"output {output!r} is a name anim3d batch keeps for itself")
    s: dict = {}
    emotion = cells.get("emotion") or "neutral"
    if emotion.lower() not in EMOTIONS:
        raise ValueError(f"unknown emotion {emotion!r}; choose one of: {', '.join(EMOTIONS)}")
    s["emotion"] = emotion.lower()
    s["intensity"] = _number(cells.get("intensity"), 1.0, "intensity", 0.0, 1.0)
    seed = cells.get("seed") or str(default_seed)
    try:
        s["seed"] = int(seed)
    except ValueError:
        raise ValueError(f"seed: expected a whole number, got {seed!r}") from None
    if not 0 <= s["seed"] <= SEED_MAX:
        raise ValueError(f"seed must be between 0 and {SEED_MAX}, got {seed}")
    gaze = cells.get("gaze") or "0,0"
    if gaze.lower() == "free":
        s["gaze"] = None
    else:
        from anim3d.commands.options import gaze_degrees
        import argparse

        try:
            s["gaze"] = list(gaze_degrees(gaze))
        except argparse.ArgumentTypeError as e:
            raise ValueError(f"gaze: {e}") from None
    s["distance"] = _number(cells.get("distance"), 0.0, "distance", -DISTANCE_MAX, DISTANCE_MAX)
    s["style"] = cells.get("style") or None
    s["text"] = cells.get("text") or None
    language = (cells.get("language") or "en").lower()
    if language not in LANGUAGE_CODES:
        raise ValueError(f"unknown language {language!r}; choose one of: {', '.join(LANGUAGE_CODES)}")
    s["language"] = language
    return Line(row=row, audio=audio, audio_path=os.path.join(base, audio), output=norm, settings=s,
                style_path=os.path.join(base, s["style"]) if s["style"] else None)


def _number(text: str | None, default: float, name: str, lo: float, hi: float) -> float:
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}: expected a number, got {text!r}") from None
    if not math.isfinite(value) or not lo <= value <= hi:
        raise ValueError(f"{name} must be between {lo:g} and {hi:g}, got {text}")
    return value


def _files(out_dir: str, output: str) -> list[str]:
    """The files a line writes (a .glb also writes its audio beside it as .wav)."""
    path = os.path.join(out_dir, output)
    return [path, os.path.splitext(path)[0] + ".wav"] if path.lower().endswith(".glb") else [path]


# ---------------------------------------------------------------- keys and records


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def checkpoint_identity(checkpoint: str | None) -> str:
    """The SHA-256 of a checkpoint folder's config and weight files (names and bytes)."""
    folder = checkpoint if checkpoint is not None else _default_checkpoint_dir()
    if not os.path.isdir(folder):
        raise InputError(folder, "checkpoint folder not found")
    h = hashlib.sha256()
    for name in sorted(os.listdir(folder)):
        if name.endswith((".json", ".safetensors", ".pt", ".bin")) and os.path.isfile(os.path.join(folder, name)):
            h.update(name.encode() + b"\0" + file_sha256(os.path.join(folder, name)).encode())
    return h.hexdigest()


def _default_checkpoint_dir() -> str:
    import importlib.util

    spec = importlib.util.find_spec("anim3d.models")  # the package's folder, without running its __init__
    return os.path.join(os.path.dirname(spec.origin), "default")


def line_key(audio_sha: str, settings: dict, output: str, model: str, style_sha: str | None = None) -> str:
    blob = json.dumps({"audio_sha256": audio_sha, "settings": settings, "format": os.path.splitext(output)[1].lower(),
                       "fps": FPS, "model": model, "anim3d": __version__, "style_sha256": style_sha}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def record_path(out_dir: str, output: str) -> str:
    return os.path.join(out_dir, STATE_DIR, output + ".json")


def is_done(out_dir: str, line: Line) -> bool:
    try:
        with open(record_path(out_dir, line.output), encoding="utf-8") as f:
            rec = json.load(f)
    except (OSError, ValueError):
        return False
    return rec.get("key") == line.key and all(os.path.isfile(p) for p in _files(out_dir, line.output))


# ---------------------------------------------------------------- the workers

_GEN = None
_LOADED = None  # the (checkpoint, device) _GEN was loaded from
_LOAD_LOCK = threading.Lock()


def init_worker(checkpoint: str | None, device: str, parent: int | None = None) -> None:
    """Load the model once for this process, on one torch thread; a worker whose parent died exits."""
    global _GEN, _LOADED
    import torch

    from anim3d import progress
    from anim3d.inference import load_model

    torch.set_num_threads(1)
    progress.set_enabled(False)
    _GEN = load_model(checkpoint, device)
    _LOADED = (checkpoint, device)
    if parent is not None:
        def watch():
            while True:
                time.sleep(0.5)
                if os.getppid() != parent:
                    os._exit(1)

        threading.Thread(target=watch, daemon=True).start()


def _ensure_model(checkpoint: str | None, device: str) -> None:
    """The model, loaded on this process's first line when no initializer loaded it (a Dask worker)."""
    if _LOADED != (checkpoint, device):
        with _LOAD_LOCK:
            if _LOADED != (checkpoint, device):
                init_worker(checkpoint, device)


def animate_line(job: tuple) -> tuple[int, str, str, float]:
    """Animate one line and write its outputs then its record: (row, status, error, seconds). The model is loaded
    once per process: by ``init_worker`` (the process pool), else lazily on the first line (Dask workers)."""
    row, audio_path, out_dir, output, settings, key, checkpoint, device, style_path = job
    t0 = time.perf_counter()
    try:
        _ensure_model(checkpoint, device)
        _animate(audio_path, out_dir, output, settings, key, style_path)
    except Anim3dError as e:
        return row, "failed", str(e), time.perf_counter() - t0
    except Exception as e:  # noqa: BLE001 -- one line's bug must not stop the others; its message is recorded
        return row, "failed", f"{type(e).__name__}: {e}", time.perf_counter() - t0
    return row, "ok", "", time.perf_counter() - t0


def _animate(audio_path: str, out_dir: str, output: str, settings: dict, key: str, style_path: str | None = None) -> None:
    from anim3d.audio import load_audio
    from anim3d.exporters.motion_io import save_motion
    from anim3d.fileio import atomic_output, output_group
    from anim3d.inference import MotionSettings, animate

    audio = load_audio(audio_path)
    gaze = None if settings["gaze"] is None else (math.radians(settings["gaze"][0]), math.radians(settings["gaze"][1]))
    ms = MotionSettings(emotion=settings["emotion"], intensity=settings["intensity"], gaze=gaze,
                        distance=settings["distance"], seed=settings["seed"], text=settings["text"],
                        language=settings["language"], style=style_path)
    motion = animate(audio, ms, checkpoint=_GEN)
    if abs(FPS - motion.fps) > 1e-9:
        motion = motion.resample(FPS)
    path = os.path.join(out_dir, output)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with output_group():  # all of the line's files or none
        save_motion(motion, path, audio=audio_path)
    rec = record_path(out_dir, output)
    os.makedirs(os.path.dirname(rec), exist_ok=True)
    with atomic_output(rec) as tmp:  # only once the outputs are in place
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"key": key, "output": output, "audio": audio_path, "settings": settings,
                       "anim3d": __version__}, f, indent=1)


# ---------------------------------------------------------------- the run


def run_batch(manifest: str, out_dir: str, *, workers: int = 1, fmt: str = "npz", checkpoint: str | None = None,
              device: str = "auto", default_seed: int = 0, quiet: bool = False, dask: str | None = None) -> int:
    import sys

    from anim3d.fileio import make_output_folder, remove_stale_temporaries
    from anim3d.progress import progress

    lines = read_manifest(manifest, out_dir, fmt, default_seed)
    make_output_folder(out_dir)
    model = checkpoint_identity(checkpoint)
    client = None
    if dask is not None:
        from anim3d.commands.batch_dask import connect, run_on_dask

        client = connect(dask)  # before any work: a bad address is one error (exit 2)
    t_start = time.perf_counter()
    folders = {os.path.dirname(p) for x in lines for p in (os.path.join(out_dir, x.output), record_path(out_dir, x.output))}
    for folder in folders:
        if os.path.isdir(folder):
            remove_stale_temporaries(folder)  # a killed run's half-written files
    todo = []
    for line in lines:
        try:
            audio_sha = file_sha256(line.audio_path)
            style_sha = file_sha256(line.style_path) if line.style_path else None
        except FileNotFoundError as e:
            what = "audio" if e.filename == line.audio_path else "style take"
            line.status, line.error = "failed", f"{e.filename}: {what} file not found"
            continue
        except OSError as e:
            line.status, line.error = "failed", f"{e.filename}: cannot be read ({e.strerror or e})"
            continue
        line.key = line_key(audio_sha, line.settings, line.output, model, style_sha)
        if is_done(out_dir, line):
            line.status = "skipped"
        else:
            todo.append(line)
    by_row = {x.row: x for x in lines}
    bar = progress(desc="batch", total=len(lines), unit="line")
    bar.update(len(lines) - len(todo))
    made = 0
    t0 = time.perf_counter()

    def finished(result):
        nonlocal made
        row, status, error, seconds = result
        line = by_row[row]
        line.status, line.error, line.seconds = status, error, seconds
        made += 1
        bar.update(1)
        bar.set_postfix_str(f"{made / max(time.perf_counter() - t0, 1e-9) * 60:.1f} lines/min")

    # absolute paths: a Dask worker runs in another folder (or on another machine with the same shared paths)
    checkpoint = os.path.abspath(checkpoint) if checkpoint is not None else None
    jobs = [(x.row, x.audio_path, os.path.abspath(out_dir), x.output, x.settings, x.key, checkpoint, device,
             x.style_path and os.path.abspath(x.style_path)) for x in todo]
    try:
        if client is not None:
            if jobs:
                run_on_dask(client, animate_line, jobs, finished)
            for folder in folders:  # the temporaries of a worker killed mid-write (its line was redone elsewhere)
                if os.path.isdir(folder):
                    remove_stale_temporaries(folder)
        elif workers > 1 and len(jobs) > 1:
            _parallel(jobs, min(workers, len(jobs)), checkpoint, device, finished)
        elif jobs:
            init_worker(checkpoint, device)
            for job in jobs:
                finished(animate_line(job))
    finally:
        bar.close()
        if client is not None:
            client.close()
        _write_results(out_dir, lines)
    wall = time.perf_counter() - t_start
    counts = {s: sum(x.status == s for x in lines) for s in ("ok", "skipped", "failed")}
    if not quiet:
        rate = f", {counts['ok'] / (time.perf_counter() - t0) * 60:.1f} lines/min" if counts["ok"] else ""
        print(f"{len(lines)} lines: {counts['ok']} ok, {counts['skipped']} skipped, {counts['failed']} failed "
              f"in {wall:.1f} s{rate}; {os.path.join(out_dir, RESULTS)}")
    if counts["failed"]:
        first = next(x for x in lines if x.status == "failed")
        print(f"anim3d batch: {counts['failed']} of {len(lines)} lines failed (first: row {first.row}: {first.error}); "
              f"see {os.path.join(out_dir, RESULTS)}", file=sys.stderr)
        return 1
    return 0


def _parallel(jobs: list, workers: int, checkpoint, device, finished) -> None:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    # fork: the workers start at once (this process has not loaded torch); each loads the model in init_worker
    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"), initializer=init_worker,
                               initargs=(checkpoint, device, os.getpid()))
    try:
        futures = [pool.submit(animate_line, job) for job in jobs]
        for fut in as_completed(futures):
            finished(fut.result())
    except BrokenProcessPool:
        pool.shutdown(wait=False, cancel_futures=True)
        raise Anim3dError("a batch worker process died (out of memory?); finished lines are kept, "
                          "run the command again to resume") from None
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _write_results(out_dir: str, lines: list[Line]) -> None:
    from anim3d.fileio import atomic_output

    with atomic_output(os.path.join(out_dir, RESULTS)) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["row", "audio", "output", "status", "error", "seconds"])
            for x in lines:
                w.writerow([x.row, x.audio, x.output, x.status or "not run", x.error, f"{x.seconds:.2f}"])
