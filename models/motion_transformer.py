"""The motion diffusion transformer: predicts clean motion x0 from noisy motion and the conditions.

One window = K previous frames (X_pre with their audio A_pre) followed by W frames to generate.
Every token is a motion frame; attention is bidirectional inside the window. The global
conditions (noise level, emotion + intensity, gaze, head distance, style) modulate every
block through adaptive layer norm (DiT's adaLN-zero). Each condition has a learned "absent"
embedding, used when it is dropped in training and for the unconditional branches of
classifier-free guidance.

Style follows nanoGPT's ``model.py``: a dataclass config (``anim3d.models.config.ModelConfig``),
small modules, shape comments.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from anim3d.models.config import ModelConfig


def fourier_embedding(x: torch.Tensor, dim: int) -> torch.Tensor:
    """B -> B x dim sinusoidal features of a scalar (here c_noise = ln(sigma) / 4)."""
    half = dim // 2
    freqs = torch.exp(torch.arange(half, device=x.device, dtype=torch.float32) * (-math.log(1000.0) / half))
    ang = x.float()[:, None] * freqs[None] * 100.0  # B x half
    return torch.cat([ang.sin(), ang.cos()], dim=1).to(x.dtype if x.is_floating_point() else torch.float32)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """x: B x L x C, shift/scale: B x C."""
    return x * (1 + scale[:, None]) + shift[:, None]


class SelfAttention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        assert cfg.n_embd % cfg.n_head == 0
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # each B x L x C
        q, k, v = (t.view(B, L, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # B x H x L x c
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).reshape(B, L, C)  # B x L x C
        return self.proj(y)


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        C = cfg.n_embd
        self.ln1 = nn.LayerNorm(C, elementwise_affine=False)
        self.attn = SelfAttention(cfg)
        self.ln2 = nn.LayerNorm(C, elementwise_affine=False)
        self.mlp = nn.Sequential(nn.Linear(C, 4 * C), nn.GELU(approximate="tanh"), nn.Linear(4 * C, C), nn.Dropout(cfg.dropout))
        self.ada = nn.Linear(C, 6 * C)
        nn.init.zeros_(self.ada.weight)
        nn.init.zeros_(self.ada.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        s1, g1, a1, s2, g2, a2 = self.ada(F.silu(c)).chunk(6, dim=1)  # each B x C
        x = x + a1[:, None] * self.attn(modulate(self.ln1(x), s1, g1))
        x = x + a2[:, None] * self.mlp(modulate(self.ln2(x), s2, g2))
        return x


class AudioConvBlock(nn.Module):
    """Residual temporal convolution over the audio tokens (kernel 5 = 5 frames, 167 ms at 30 fps): finds short
    acoustic events (a closure's silence and burst) before attention. The output layer starts at zero, so adding
    blocks to a trained model leaves its function unchanged until fine-tuning moves them."""

    def __init__(self, C: int):
        super().__init__()
        self.conv = nn.Conv1d(C, C, kernel_size=5, padding=2)
        self.out = nn.Conv1d(C, C, kernel_size=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        """a: B x C x L -> B x C x L."""
        return a + self.out(F.gelu(self.conv(a), approximate="tanh"))


class MotionTransformer(nn.Module):
    """x0-predicting denoiser. See ``forward`` for the condition layout."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        C, D, K, W = cfg.n_embd, cfg.motion_dim, cfg.prev, cfg.window
        self.in_x = nn.Linear(D, C)
        self.in_prev = nn.Linear(D, C)
        self.null_prev = nn.Parameter(torch.zeros(C))
        self.in_audio = nn.Sequential(nn.Linear(cfg.audio_dim, C), nn.GELU(approximate="tanh"), nn.Linear(C, C))
        self.audio_conv = nn.Conv1d(C, C, kernel_size=5, padding=2, groups=C // 16 if C >= 16 else 1)
        self.audio_blocks = nn.ModuleList([AudioConvBlock(C) for _ in range(cfg.audio_conv_layers)])
        self.null_audio = nn.Parameter(torch.zeros(C))
        self.pos = nn.Parameter(torch.randn(K + W, C) * 0.02)
        # global conditions
        self.sigma_mlp = nn.Sequential(nn.Linear(64, C), nn.SiLU(), nn.Linear(C, C))
        self.emotion = nn.Embedding(cfg.num_emotions, C)
        self.null_emotion = nn.Parameter(torch.zeros(C))
        self.gaze_mlp = nn.Sequential(nn.Linear(2, C), nn.SiLU(), nn.Linear(C, C))
        self.null_gaze = nn.Parameter(torch.zeros(C))
        self.dist_mlp = nn.Sequential(nn.Linear(1, C), nn.SiLU(), nn.Linear(C, C))
        self.null_dist = nn.Parameter(torch.zeros(C))
        self.style_mlp = nn.Sequential(nn.Linear(cfg.style_dim, C), nn.SiLU(), nn.Linear(C, C))
        self.null_style = nn.Parameter(torch.zeros(C))
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(C, elementwise_affine=False)
        self.ada_f = nn.Linear(C, 2 * C)
        nn.init.zeros_(self.ada_f.weight)
        nn.init.zeros_(self.ada_f.bias)
        self.out = nn.Linear(C, D)
        self.drop = nn.Dropout(cfg.dropout)

    @staticmethod
    def _pick(mask: torch.Tensor, value: torch.Tensor, null: torch.Tensor) -> torch.Tensor:
        """mask: B bool, value: B x C -> value where mask else the null embedding."""
        return torch.where(mask[:, None], value, null[None].to(value.dtype))

    def global_condition(self, sigma: torch.Tensor, cond: dict) -> torch.Tensor:
        """B x C vector from the noise level and the global conditions."""
        c = self.sigma_mlp(fourier_embedding(torch.log(sigma) / 4, 64))  # B x C
        e_label = self.emotion(cond["emotion"])  # B x C
        e_neutral = self.emotion.weight[0][None]  # 1 x C
        e = e_neutral + cond["intensity"][:, None] * (e_label - e_neutral)  # linear in intensity
        c = c + self._pick(cond["emotion_mask"], e, self.null_emotion)
        c = c + self._pick(cond["gaze_mask"], self.gaze_mlp(cond["gaze"]), self.null_gaze)
        c = c + self._pick(cond["distance_mask"], self.dist_mlp(cond["distance"]), self.null_dist)
        c = c + self._pick(cond["style_mask"], self.style_mlp(cond["style"]), self.null_style)
        return c

    def encode_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """B x L x A audio features -> B x L x C audio tokens (before absent frames get the null token)."""
        a = self.in_audio(audio).transpose(1, 2)  # B x C x L
        a = a + self.audio_conv(a)
        for blk in self.audio_blocks:
            a = blk(a)
        return a.transpose(1, 2)  # B x L x C

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, cond: dict) -> torch.Tensor:
        """Predict x0.

        x: B x W x D noisy normalised motion; sigma: B noise levels.
        cond: ``audio`` B x (K+W) x A features (A_pre then A), ``audio_mask`` B x (K+W) bool,
        ``prev`` B x K x D clean X_pre, ``prev_mask`` B bool, ``emotion`` B long, ``intensity`` B,
        ``emotion_mask`` B, ``gaze`` B x 2, ``gaze_mask`` B, ``distance`` B x 1, ``distance_mask`` B,
        ``style`` B x S, ``style_mask`` B; optional ``audio_tokens`` B x (K+W) x C, ``encode_audio(audio)`` computed
        once for all of a window's sampler steps and guidance branches.  Returns B x W x D.
        """
        cfg = self.cfg
        B, W, D = x.shape
        K = cfg.prev
        c_in = 1.0 / torch.sqrt(sigma**2 + cfg.sigma_data**2)  # B
        h_x = self.in_x(x * c_in[:, None, None])  # B x W x C
        h_p = self.in_prev(cond["prev"])  # B x K x C
        h_p = torch.where(cond["prev_mask"][:, None, None], h_p, self.null_prev.to(h_p.dtype))
        h = torch.cat([h_p, h_x], dim=1)  # B x (K+W) x C
        # sampling passes the tokens in: they depend on the audio only (guidance branches and steps differ in masks)
        a = cond["audio_tokens"] if "audio_tokens" in cond else self.encode_audio(cond["audio"])  # B x (K+W) x C
        a = torch.where(cond["audio_mask"][:, :, None], a, self.null_audio.to(a.dtype))
        h = self.drop(h + a + self.pos[: K + W][None])
        c = self.global_condition(sigma, cond)  # B x C
        for block in self.blocks:
            h = block(h, c)
        shift, scale = self.ada_f(F.silu(c)).chunk(2, dim=1)
        h = modulate(self.ln_f(h[:, K:]), shift, scale)  # B x W x C
        return self.out(h)  # B x W x D


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def drop_condition(cond: dict, name: str, drop: torch.Tensor | None = None) -> dict:
    """A copy of ``cond`` with condition ``name`` marked absent for the samples where ``drop`` (B bool) is True
    (all samples when ``drop`` is None). ``prev`` drops X_pre and A_pre together; ``audio`` the window's audio.
    """
    out = dict(cond)
    B = cond["prev_mask"].shape[0]
    if drop is None:
        drop = torch.ones(B, dtype=torch.bool, device=cond["prev_mask"].device)
    keep = ~drop
    if name == "audio":
        K = cond["prev"].shape[1]
        am = cond["audio_mask"].clone()
        am[:, K:] &= keep[:, None]
        out["audio_mask"] = am
    elif name == "prev":
        K = cond["prev"].shape[1]
        am = cond["audio_mask"].clone()
        am[:, :K] &= keep[:, None]
        out["audio_mask"] = am
        out["prev_mask"] = cond["prev_mask"] & keep
    elif name in ("emotion", "gaze", "distance", "style"):
        out[f"{name}_mask"] = cond[f"{name}_mask"] & keep
    else:
        raise KeyError(f"unknown condition {name!r}")
    return out


def concat_conditions(conds: list[dict]) -> dict:
    return {k: torch.cat([c[k] for c in conds], dim=0) for k in conds[0]}
