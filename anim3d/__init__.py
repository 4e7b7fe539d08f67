"""anim3d: speech to 3D facial animation (ARKit-52 blendshapes + head pose).

Kept light on purpose: importing ``anim3d`` must not import torch. Heavy modules
(pipeline, models, exporters) are imported where they are used.
"""

from anim3d.channels import ARKIT_NAMES, NUM_BLENDSHAPES
from anim3d.errors import Anim3dError
from anim3d.motion import Motion

__all__ = ["ARKIT_NAMES", "NUM_BLENDSHAPES", "Anim3dError", "Motion"]
__version__ = "0.1.0"
