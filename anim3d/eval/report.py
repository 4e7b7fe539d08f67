"""The evaluation report: Markdown tables plus matplotlib PNGs, written atomically."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from anim3d.fileio import atomic_output
from anim3d.optional import require


def fmt(x, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, (float, np.floating)) and not math.isfinite(float(x)):
        return "n/a"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return f"{float(x):.{digits}f}"


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c if isinstance(c, str) else fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _figure():
    matplotlib = require("matplotlib", "report plots")

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    _figure().close(fig)


def _z(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    s = x.std()
    return (x - x.mean()) / s if s > 1e-12 else x - x.mean()


def plot_mouth_curves(clip: str, curves: dict[str, np.ndarray], fps: float, path: Path, seconds: float = 12.0) -> None:
    """Real vs generated mouth opening for one clip (each z-scored), first ``seconds``."""
    plt = _figure()
    n = int(seconds * fps)
    fig, ax = plt.subplots(figsize=(11, 3.6))
    for name, y in curves.items():
        y = _z(y)[:n]
        t = np.arange(y.size) / fps
        style = dict(color="black", lw=2.0) if name.startswith("real") else dict(lw=1.2, alpha=0.85)
        ax.plot(t, y, label=name, **style)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mouth opening (z-score)")
    ax.set_title(f"{clip}: generated vs real mouth opening")
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    _save(fig, path)


def plot_bars(title: str, labels: list[str], series: dict[str, list[float]], ylabel: str, path: Path, hline=None) -> None:
    plt = _figure()
    fig, ax = plt.subplots(figsize=(max(5, 1.3 * len(labels) + 2), 3.6))
    k = len(series)
    w = 0.8 / max(k, 1)
    x = np.arange(len(labels))
    for j, (name, vals) in enumerate(series.items()):
        ax.bar(x + (j - (k - 1) / 2) * w, np.nan_to_num(np.asarray(vals, dtype=float)), w, label=name)
    if hline is not None:
        ax.axhline(hline[0], color="grey", ls="--", lw=1)
        ax.text(-0.4, hline[0], hline[1], ha="left", va="bottom", fontsize=8, color="grey")
    ax.set_xticks(x)
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    _save(fig, path)


def plot_emotion_matrix(method: str, rates: dict[str, dict[float, float]], path: Path) -> None:
    """Recognition rate heat map: requested emotion x intensity."""
    plt = _figure()
    emotions = list(rates)
    levels = sorted({i for r in rates.values() for i in r})
    m = np.full((len(emotions), len(levels)), np.nan)
    for a, e in enumerate(emotions):
        for b, i in enumerate(levels):
            m[a, b] = rates[e].get(i, np.nan)
    fig, ax = plt.subplots(figsize=(1.2 * len(levels) + 2.5, 0.4 * len(emotions) + 1.5))
    im = ax.imshow(m, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    for a in range(len(emotions)):
        for b in range(len(levels)):
            if np.isfinite(m[a, b]):
                ax.text(b, a, f"{m[a, b]:.2f}", ha="center", va="center", color="white" if m[a, b] < 0.6 else "black", fontsize=8)
    ax.set_xticks(range(len(levels)))
    ax.set_xticklabels([f"{i:g}" for i in levels])
    ax.set_yticks(range(len(emotions)))
    ax.set_yticklabels(emotions)
    ax.set_xlabel("requested intensity")
    ax.set_title(f"emotion recognition rate: {method}")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    _save(fig, path)


class Report:
    """Collects Markdown; ``write`` puts report.md into ``out_dir`` atomically."""

    def __init__(self, out_dir: str | os.PathLike, title: str):
        from anim3d.fileio import make_output_folder

        self.out = Path(out_dir)
        make_output_folder(self.out)
        self.lines: list[str] = [f"# {title}", ""]

    def add(self, *text: str) -> None:
        self.lines.extend(text)
        self.lines.append("")

    def image(self, name: str, alt: str) -> None:
        self.add(f"![{alt}]({name})")

    def path(self, name: str) -> Path:
        return self.out / name

    def write(self) -> Path:
        path = self.out / "report.md"
        with atomic_output(path) as tmp:
            Path(tmp).write_text("\n".join(self.lines), encoding="utf-8")
        return path
