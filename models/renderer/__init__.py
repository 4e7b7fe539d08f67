"""The portrait renderer's refinement network (a small U-Net) and its checkpoint format."""

from pathlib import Path

from anim3d.models.renderer.config import RendererConfig
from anim3d.models.renderer.network import RefineNet, load_renderer, save_renderer

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "renderer_default"  # the shipped renderer

__all__ = ["DEFAULT_DIR", "RendererConfig", "RefineNet", "load_renderer", "save_renderer"]
