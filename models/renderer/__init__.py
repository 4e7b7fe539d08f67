"""The portrait renderer's refinement network (a small U-Net) and its checkpoint format."""

from models.renderer.config import RendererConfig
from models.renderer.network import RefineNet, load_renderer, save_renderer

__all__ = ["RendererConfig", "RefineNet", "load_renderer", "save_renderer"]
