"""Training the motion diffusion transformer (``anim3d train``).

Data: a list of ``anim3d.training.data.Example`` (audio features per frame, normalised motion, emotion label,
intensity, voice, the frames of p/b/m phones). ``load_examples`` there builds them from the data engine's
shards; tests build them directly. Training draws random windows, drops conditions (p = 0.1 each, 0.5 for
X_pre/A_pre together), truncates the audio tail at random, augments the features (``anim3d.training.augment``,
the front end's own augmentation), and keeps an EMA copy of the weights. Validation each epoch samples whole
held-out utterances with the EMA weights and reports bilabial closure and lip error.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import time

import numpy as np

from anim3d.channels import INDEX
from anim3d.errors import Anim3dError
from anim3d.phones import BILABIALS
from anim3d.training.config import TrainConfig
from anim3d.training.data import Example, WindowSampler, prepare

LIP_CHANNELS = [i for n, i in INDEX.items() if n.startswith(("jaw", "mouth"))]


# ---------------------------------------------------------------- metrics
def closure_rate(blendshapes: np.ndarray, phones: list, fps: float = 30.0) -> float:
    """Share of p/b/m phones whose lips close near the phone's middle (the evaluation's definition:
    ``anim3d.eval.metrics.bilabial_closure_rate`` on ``anim3d.eval.mouth.blendshape_opening``)."""
    from anim3d.eval.metrics import bilabial_closure_rate
    from anim3d.eval.mouth import CLOSED_BELOW, blendshape_opening
    from anim3d.motion import Motion

    z = np.zeros((len(blendshapes), 3), np.float32)
    opening = blendshape_opening(Motion(np.clip(blendshapes, 0, 1), z, z, fps))
    return bilabial_closure_rate(opening, phones, fps, closed_below=CLOSED_BELOW["blendshapes"])[0]


def lip_error(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean over frames of the max absolute error over jaw/mouth blendshapes (ProbTalk3D's LVE, on weights)."""
    return float(np.abs(pred[:, LIP_CHANNELS] - target[:, LIP_CHANNELS]).max(axis=1).mean())


# ---------------------------------------------------------------- loop
def random_dropout(cond: dict, tcfg: TrainConfig, generator) -> dict:
    import torch

    from anim3d.models.motion_transformer import drop_condition

    B = cond["prev_mask"].shape[0]
    for name in ("audio", "emotion", "gaze", "distance", "style", "prev"):
        p = tcfg.p_drop_prev if name == "prev" else tcfg.p_drop
        cond = drop_condition(cond, name, torch.rand(B, generator=generator) < p)
    return cond


def diffusion_loss(model, x0, loss_mask, cond, tcfg: TrainConfig, generator, lip_w):
    """Masked x0 MSE + velocity MSE at EDM log-normal noise levels. x0: B x W x D, loss_mask: B x W, lip_w: D."""
    import torch

    from anim3d.models.diffusion import sample_training_sigmas

    B = x0.shape[0]
    sigma = sample_training_sigmas(B, generator=generator).to(x0.device)  # B
    noise = torch.randn(x0.shape, generator=generator).to(x0.device)
    pred = model(x0 + sigma[:, None, None] * noise, sigma, cond)  # B x W x D
    err = ((pred.float() - x0) ** 2 * lip_w).mean(-1)  # B x W
    loss = (err * loss_mask).sum() / loss_mask.sum().clamp_min(1)
    vm = loss_mask[:, 1:] * loss_mask[:, :-1]
    verr = (((pred[:, 1:] - pred[:, :-1]).float() - (x0[:, 1:] - x0[:, :-1])) ** 2 * lip_w).mean(-1)
    vloss = (verr * vm).sum() / vm.sum().clamp_min(1)
    return loss + tcfg.velocity_weight * vloss, loss.detach()


def example_conditions(ex: Example):
    """The conditions an example was made with (its emotion label and intensity, the gaze and head distance
    of its motion): what sampling it again should be asked for."""
    from anim3d.inference.settings import Conditions
    from anim3d.motion_codec import DISTANCE_SCALE, distance_condition, gaze_condition

    return Conditions(ex.emotion, ex.intensity, tuple(gaze_condition(ex.motion)), float(distance_condition(ex.motion)[0] / DISTANCE_SCALE))


def validate(model, cfg, examples: list[Example], tcfg: TrainConfig, device, inference=None) -> dict:
    """Whole-utterance sampling on held-out examples -> closure rate, lip error (and the teacher's closure rate),
    with the checkpoint's ``inference`` settings (sampler, guidance) and ``tcfg.val_steps`` steps."""
    from anim3d.inference.generator import MotionGenerator
    from anim3d.inference.settings import MotionSettings, resolve_sampling
    from anim3d.inference.windows import generate_windows

    gen = MotionGenerator(model, cfg, inference, device, front_end=False)
    sampling = resolve_sampling(MotionSettings(steps=tcfg.val_steps), gen.inference)
    closures, teacher, errors = [], [], []
    for i, ex in enumerate(examples[: tcfg.val_utterances]):
        raw = generate_windows(gen, ex.feats, example_conditions(ex), [i], sampling)[0]
        pred = np.clip(raw[:, :52], 0, 1)
        if any(p[0] in BILABIALS for p in ex.phones):
            closures.append(closure_rate(pred, ex.phones, cfg.fps))
            teacher.append(closure_rate(ex.motion[:, :52], ex.phones, cfg.fps))
        errors.append(lip_error(pred, ex.motion[:, :52]))
    nan = float("nan")
    return {
        "closure": float(np.nanmean(closures)) if closures else nan,
        "teacher_closure": float(np.nanmean(teacher)) if teacher else nan,
        "lip_error": float(np.mean(errors)) if errors else nan,
    }


def _save_state(folder, model, ema, opt, step, epoch, tcfg):
    """Resumable training state without pickle: tensors in safetensors, counters in JSON."""
    from safetensors.torch import save_file

    from anim3d.fileio import atomic_output, make_output_folder

    make_output_folder(folder)
    tensors = {f"model.{k}": v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors.update({f"ema.{k}": v.detach().float().cpu().contiguous() for k, v in ema.state_dict().items()})
    osd = opt.state_dict()
    for pid, st in osd["state"].items():
        for k, v in st.items():
            tensors[f"opt.{pid}.{k}"] = (v if hasattr(v, "detach") else __import__("torch").tensor(v)).detach().float().cpu().reshape(-1).contiguous() if k == "step" else v.detach().float().cpu().contiguous()
    with atomic_output(os.path.join(folder, "state.safetensors")) as tmp:
        save_file(tensors, tmp)
    with atomic_output(os.path.join(folder, "state.json")) as tmp:
        with open(tmp, "w") as f:
            json.dump({"step": step, "epoch": epoch, "train": dataclasses.asdict(tcfg)}, f)


def _load_state(folder, model, ema, opt):
    from safetensors.torch import load_file

    with open(os.path.join(folder, "state.json")) as f:
        meta = json.load(f)
    t = load_file(os.path.join(folder, "state.safetensors"))
    model.load_state_dict({k[6:]: v for k, v in t.items() if k.startswith("model.")})
    ema.load_state_dict({k[4:]: v for k, v in t.items() if k.startswith("ema.")})
    osd = opt.state_dict()
    for key, v in t.items():
        if key.startswith("opt."):
            _, pid, name = key.split(".", 2)
            osd["state"].setdefault(int(pid), {})[name] = v.reshape(()) if name == "step" else v
    opt.load_state_dict(osd)
    return meta["step"], meta["epoch"]


def train(train_examples: list[Example], val_examples: list[Example], out_dir: str, tcfg: TrainConfig,
          device="cpu", resume: bool = False, log=print) -> dict:
    """Train and write ``out_dir`` (the EMA checkpoint: config.json + model.safetensors, plus ``state/`` for resume
    and ``metrics.jsonl``). Returns the last validation metrics."""
    import torch

    from anim3d.models.checkpoint import (
        load_checkpoint,
        read_config,
        read_inference,
        save_checkpoint,
    )
    from anim3d.models.config import InferenceConfig, get_config
    from anim3d.models.motion_transformer import MotionTransformer
    from anim3d.motion_codec import compute_stats
    from anim3d.progress import progress

    if not train_examples:
        raise Anim3dError("no training examples")
    torch.manual_seed(tcfg.seed)
    device = torch.device(device) if isinstance(device, str) else device
    state_dir = os.path.join(out_dir, "state")
    if resume and os.path.isfile(os.path.join(state_dir, "state.json")):
        cfg, _ = read_config(out_dir)
        inference = read_inference(out_dir)
    elif tcfg.init:
        resume = False
        init_model, cfg, _ = load_checkpoint(tcfg.init)
        inference = read_inference(tcfg.init)
        init_audio = (cfg.audio_encoder, cfg.audio_dim)
        cfg = dataclasses.replace(cfg, **tcfg.model_overrides)  # e.g. audio_conv_layers added to a trained model
        if cfg.audio_dim != int(train_examples[0].feats.shape[1]):
            raise Anim3dError(f"{tcfg.init}: the checkpoint takes {cfg.audio_dim} audio features per frame, the corpus gives {train_examples[0].feats.shape[1]}")
        from anim3d.training.opening import carry_opening

        inference = carry_opening(tcfg.init, out_dir, inference, init_audio == (cfg.audio_encoder, cfg.audio_dim))
    else:
        resume = False
        inference = InferenceConfig()
        mean, std = compute_stats([e.motion for e in train_examples])
        cfg = get_config(tcfg.model, **{"audio_dim": int(train_examples[0].feats.shape[1]), **tcfg.model_overrides},
                         motion_mean=mean.tolist(), motion_std=std.tolist())
    try:
        inference = InferenceConfig.from_dict({**inference.to_dict(), **tcfg.inference})
    except (TypeError, ValueError) as e:
        raise Anim3dError(f"inference settings: {e}") from None
    prepare(train_examples, cfg.motion_mean, cfg.motion_std)
    prepare(val_examples, cfg.motion_mean, cfg.motion_std)
    model = MotionTransformer(cfg).to(device)
    if tcfg.init and not resume:
        state = init_model.state_dict()
        fresh = []
        if init_audio != (cfg.audio_encoder, cfg.audio_dim):  # another audio front end: its input layer starts at its init
            fresh = [k for k in state if k.startswith("in_audio.0.")]
            state = {k: v for k, v in state.items() if k not in fresh}
        missing, unexpected = model.load_state_dict(state, strict=False)
        new_blocks = [k for k in missing if not k.startswith("audio_blocks.") and k not in fresh]
        if new_blocks or unexpected:
            raise Anim3dError(f"{tcfg.init}: the checkpoint does not fit the model (missing {new_blocks[:3]}, unexpected {unexpected[:3]})")
        log(f"initialised from {tcfg.init}" + (f" ({len(missing)} new tensors start at their init)" if missing else ""))
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (decay if p.dim() >= 2 and "pos" not in n and "null" not in n else no_decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": tcfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=tcfg.lr, betas=(0.9, 0.99))
    step, epoch0 = 0, 0
    if resume:
        step, epoch0 = _load_state(state_dir, model, ema, opt)
        log(f"resumed from {state_dir} at epoch {epoch0}, step {step}")
    total = tcfg.epochs * tcfg.steps_per_epoch
    sampler = WindowSampler(train_examples, cfg, tcfg, tcfg.seed + 1000 * epoch0)
    gen = torch.Generator().manual_seed(tcfg.seed + 7 + step)
    lip_w = torch.ones(cfg.motion_dim)
    lip_w[LIP_CHANNELS] = tcfg.lip_weight
    lip_w = (lip_w / lip_w.mean()).to(device)
    use_amp = device.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    t_start = time.time()
    metrics: dict = {}
    for epoch in range(epoch0, tcfg.epochs):
        model.train()
        losses = []
        bar = progress(range(tcfg.steps_per_epoch), desc=f"epoch {epoch + 1}/{tcfg.epochs}", total=tcfg.steps_per_epoch, unit="step")
        for _ in bar:
            frac = step / max(total, 1)  # schedule progress: by steps, or by time when a time budget is set
            if tcfg.max_minutes:
                frac = max(frac, (time.time() - t_start) / (tcfg.max_minutes * 60))
            lr = tcfg.lr * min(1.0, (step + 1) / tcfg.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))
            for g in opt.param_groups:
                g["lr"] = lr
            x0, mask, cond = sampler.batch(tcfg.batch_size)
            cond = random_dropout(cond, tcfg, gen)
            x0, mask = x0.to(device), mask.to(device)
            cond = {k: v.to(device) for k, v in cond.items()}
            with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=use_amp):
                loss, mse = diffusion_loss(model, x0, mask, cond, tcfg, gen, lip_w)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
            scaler.step(opt)
            scaler.update()
            step += 1
            with torch.no_grad():
                d = min(tcfg.ema, (1 + step) / (10 + step))
                for pe, pm in zip(ema.parameters(), model.parameters()):
                    pe.lerp_(pm, 1 - d)
            losses.append(float(mse))
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
            if tcfg.max_minutes and time.time() - t_start > tcfg.max_minutes * 60:
                break
        metrics = {"epoch": epoch + 1, "step": step, "loss": float(np.mean(losses)), "minutes": (time.time() - t_start) / 60}
        if val_examples:
            metrics.update(validate(ema, cfg, val_examples, tcfg, device, inference))
        log(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()))
        save_checkpoint(out_dir, ema, cfg, {"train": dataclasses.asdict(tcfg), "metrics": metrics}, inference)
        _save_state(state_dir, model, ema, opt, step, epoch + 1, tcfg)
        with open(os.path.join(out_dir, "metrics.jsonl"), "a") as f:
            f.write(json.dumps(metrics) + "\n")
        if tcfg.max_minutes and time.time() - t_start > tcfg.max_minutes * 60:
            log(f"time budget of {tcfg.max_minutes} min used up after epoch {epoch + 1}")
            break
    return metrics
