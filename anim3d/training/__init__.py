"""Training the motion diffusion transformer (``anim3d train``).

- ``data``: ``Example`` (features, motion, labels, phones), ``load_examples`` from the data engine's shards,
  ``WindowSampler`` (random training windows and their conditions);
- ``augment``: feature augmentation on whole batches;
- ``config``: ``TrainConfig``;
- ``loop``: the losses, validation on held-out voices and the loop (``train``);
- ``distributed``: the loop on several processes (Accelerate): the accelerator, each process's share of the
  global batch, the random state a resumed run continues from.
"""

from anim3d.training.config import TrainConfig
from anim3d.training.data import Example, load_examples
from anim3d.training.loop import train

__all__ = ["Example", "TrainConfig", "load_examples", "train"]
