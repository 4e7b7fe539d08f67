"""The open mouth's interior, painted into the warped portrait.

A closed-mouth photo has no teeth or cavity to warp: stretching its lip seam gives a smear of lip
(or, under a moustache, hair) colour, which neither a viewer nor a face tracker reads as an open
mouth. Where the driven mouth opens wider than the portrait's, the inside of the driven inner-lip
polygon is painted from its (u, v) parametrization (``flow.mouth_vertex_uv``: u across the mouth,
v from the upper lip 0 to the lower lip 1): upper teeth under the upper lip, a dark cavity, the
tongue and the lower teeth's edge at the bottom, shaded darker towards the corners, in colours
scaled to the portrait's brightness. The refinement network then works on a plausible mouth
instead of having to invent one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

UPPER_INNER, LOWER_INNER = 13, 14
EYE_OUTER = (33, 263)

TEETH = (0.80, 0.76, 0.68)
CAVITY = (0.08, 0.025, 0.025)
TONGUE = (0.52, 0.24, 0.23)
UPPER_TEETH_IOD = 0.075  # visible upper-incisor height, as a fraction of the outer eye-corner distance
LOWER_TEETH_IOD = 0.035
WIDE_OPEN_IOD = 0.1  # lip gaps beyond this show more teeth
OPEN_RAMP_IOD = 0.04  # the painting fades in over this much extra opening beyond the portrait's own
# A portrait whose lips are already parted (teeth showing) has a real interior for the warp to
# stretch; the painting fades out as its own lip gap grows between these fractions of the eye distance.
SOURCE_OPEN_IOD = (0.02, 0.05)


@dataclass
class MouthPainter:
    """Colours (3-vectors in [0, 1]), the portrait's own lip gap (pixels of its crop) and the
    painting's strength (1 for closed lips, 0 when the portrait's mouth is open already)."""

    teeth: np.ndarray
    cavity: np.ndarray
    tongue: np.ndarray
    source_gap: float
    strength: float = 1.0

    @classmethod
    def from_portrait(cls, image: np.ndarray, landmarks: np.ndarray) -> "MouthPainter":
        """Palette scaled to the face's brightness (median of the cheek/nose region's luminance)."""
        lm = np.asarray(landmarks, np.float64)
        size = image.shape[0]
        # the skin between the eyes and the mouth: nose bridge, cheeks (MediaPipe 5, 50, 280, 4)
        pts = lm[[5, 50, 280, 4], :2].round().astype(int).clip(0, size - 1)
        r = max(2, int(0.02 * size))
        patches = [image[max(0, y - r):y + r, max(0, x - r):x + r].reshape(-1, 3) for x, y in pts]
        skin = np.concatenate(patches).astype(np.float64) / 255.0
        lum = float(np.median(skin @ np.array([0.299, 0.587, 0.114])))
        k = float(np.clip(lum / 0.55, 0.5, 1.3))  # 0.55: a typical well-lit face
        gap = float(np.linalg.norm(lm[UPPER_INNER, :2] - lm[LOWER_INNER, :2]))
        iod = max(float(np.linalg.norm(lm[EYE_OUTER[0], :2] - lm[EYE_OUTER[1], :2])), 1.0)
        lo, hi = SOURCE_OPEN_IOD
        strength = float(np.clip((hi - gap / iod) / (hi - lo), 0.0, 1.0))
        return cls(np.clip(np.array(TEETH) * k, 0, 1), np.array(CAVITY) * k, np.clip(np.array(TONGUE) * k, 0, 1), gap,
                   strength)

    def frame_alpha(self, driven: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """driven: B x N x (2|3) crop-pixel landmarks -> (alpha, gap, iod), each B: how much of the
        painting each frame gets (0 when the mouth is no wider open than the portrait's)."""
        gap = (driven[:, UPPER_INNER, :2] - driven[:, LOWER_INNER, :2]).norm(dim=-1)  # B
        iod = (driven[:, EYE_OUTER[0], :2] - driven[:, EYE_OUTER[1], :2]).norm(dim=-1).clamp(min=1.0)
        alpha = ((gap - self.source_gap) / (OPEN_RAMP_IOD * iod)).clamp(0, 1) * self.strength
        return alpha, gap, iod

    def interior(self, uv: torch.Tensor, gap: torch.Tensor, iod: torch.Tensor) -> torch.Tensor:
        """uv: B x h x w x 2 -> B x 3 x h x w interior colour; gap, iod: B, in output pixels."""
        dev, dt = uv.device, uv.dtype
        u, v = uv[..., 0], uv[..., 1]  # B x h x w
        g = gap.to(dt).view(-1, 1, 1).clamp(min=1e-3)
        i = iod.to(dt).view(-1, 1, 1)
        y_top = v * g  # pixels below the upper inner lip
        y_bot = (1 - v) * g  # pixels above the lower inner lip
        # Speech-sized openings show mostly dark cavity (teeth only as a thin bright edge: a grey
        # band under a white moustache reads as more moustache to a face tracker); the teeth
        # show more as the mouth opens wide.
        wide = (g - WIDE_OPEN_IOD * i).clamp(min=0)
        up_t = torch.minimum(0.1 * g + 0.3 * wide, UPPER_TEETH_IOD * i)
        lo_t = torch.minimum(0.04 * g + 0.1 * wide, LOWER_TEETH_IOD * i)
        edge = 0.015 * i  # soft band edges, in pixels
        upper = torch.sigmoid((up_t - y_top) / edge)  # 1 on the upper teeth
        lower = torch.sigmoid((lo_t - y_bot) / edge)
        tongue = torch.sigmoid((v - 0.62) / 0.08) * (g / (2 * WIDE_OPEN_IOD * i)).clamp(0, 1)  # lit when wide open
        side = (2 * u - 1) ** 2  # 0 mid-mouth, 1 at the corners
        col = lambda c: torch.as_tensor(c, device=dev, dtype=dt).view(1, 3, 1, 1)  # noqa: E731
        base = col(self.cavity) * (1 - tongue[:, None]) + col(self.tongue) * tongue[:, None]
        # the teeth darken towards the corners and right under the lip (its shadow)
        shade_up = (1 - 0.55 * side) * (0.7 + 0.3 * torch.sigmoid((y_top - 0.15 * up_t) / edge))
        teeth_up = col(self.teeth) * shade_up[:, None]
        teeth_lo = col(self.teeth) * (0.8 * (1 - 0.55 * side))[:, None]
        out = base * (1 - 0.4 * side[:, None])
        out = out + lower[:, None] * (teeth_lo - out)
        return out + upper[:, None] * (teeth_up - out)  # B x 3 x h x w

    def paint(self, image: torch.Tensor, mouth: torch.Tensor, uv: torch.Tensor, driven: torch.Tensor,
              crop_size: int) -> torch.Tensor:
        """Paint the interior into ``image`` (B x 3 x H x W) from the flow grid's mouth mask (B x n x n)
        and uv (B x n x n x 2); ``driven``: B x N x (2|3) landmarks in ``crop_size`` pixels.
        Only a box around the mouth is upsampled and touched."""
        b, _, h, w = image.shape
        n = mouth.shape[-1]
        if self.strength <= 0:
            return image
        alpha, gap, iod = self.frame_alpha(driven.to(image.dtype))
        if not bool((alpha > 0).any()) or not bool((mouth > 0).any()):
            return image
        rows = torch.nonzero(mouth.amax(dim=(0, 2)) > 0).flatten()
        cols = torch.nonzero(mouth.amax(dim=(0, 1)) > 0).flatten()
        y0, y1 = max(int(rows[0]) - 2, 0), min(int(rows[-1]) + 3, n)
        x0, x1 = max(int(cols[0]) - 2, 0), min(int(cols[-1]) + 3, n)
        k = h / n
        Y0, Y1, X0, X1 = int(round(y0 * k)), int(round(y1 * k)), int(round(x0 * k)), int(round(x1 * k))
        box = torch.cat([mouth[:, None, y0:y1, x0:x1], uv[:, y0:y1, x0:x1].permute(0, 3, 1, 2)], 1).to(image.dtype)
        if k != 1:
            box = F.interpolate(box, size=(Y1 - Y0, X1 - X0), mode="bilinear", align_corners=False)
        m = box[:, :1]  # B x 1 x h' x w', soft at the lip line
        uv_up = (box[:, 1:] / m.clamp(min=1e-3)).clamp(0, 1).permute(0, 2, 3, 1)  # undo the blur towards 0
        scale = h / crop_size
        colour = self.interior(uv_up, gap * scale, iod * scale)
        a = m * alpha.view(-1, 1, 1, 1)
        out = image.clone()
        region = out[:, :, Y0:Y1, X0:X1]
        out[:, :, Y0:Y1, X0:X1] = region + a * (colour - region)
        return out
