"""Training the motion diffusion transformer (``anim3d train``).

Data: a list of ``anim3d.training.data.Example`` (audio features per frame, normalised motion, emotion label,
intensity, voice, the frames of p/b/m phones). ``load_examples`` there builds them from the data engine's
shards; tests build them directly. Training draws random windows, drops conditions (p = 0.1 each, 0.5 for
X_pre/A_pre together), truncates the audio tail at random, augments the features (``anim3d.training.augment``,
the front end's own augmentation), and keeps an EMA copy of the weights. Validation each epoch samples whole
held-out utterances with the EMA weights and reports bilabial closure and lip error. The loop runs under Hugging
Face Accelerate, on one process or several (``anim3d.training.distributed``: each computes its share of the same
global batch); a resumed run continues from the saved weights, optimizer and random state.
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
STATE_META = "anim3d_state"  # state.safetensors metadata: step, epoch, TrainConfig, random state (JSON)


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
def random_dropout(cond: dict, tcfg: TrainConfig, generator, rows=None, total: int | None = None) -> dict:
    """Drop each condition of each window at random; ``rows``/``total``: the windows are those rows of a batch of
    ``total`` (the draws are made for all of them; ``anim3d.training.distributed``)."""
    import torch

    from anim3d.models.motion_transformer import drop_condition
    from anim3d.training.distributed import pick

    B = cond["prev_mask"].shape[0] if total is None else total
    for name in ("audio", "emotion", "gaze", "distance", "style", "prev"):
        p = tcfg.p_drop_prev if name == "prev" else tcfg.p_drop
        cond = drop_condition(cond, name, pick(torch.rand(B, generator=generator) < p, rows))
    return cond


def diffusion_loss(model, x0, loss_mask, cond, sigma, noise, tcfg: TrainConfig, lip_w, denom=None):
    """Masked x0 MSE + velocity MSE at noise levels ``sigma`` (B, EDM log-normal) with ``noise`` (B x W x D).
    x0: B x W x D, loss_mask: B x W, lip_w: D. ``denom``: the (mask, velocity mask) sums the two means divide by,
    the whole batch's when x0 is a share of it (default: x0's own). Returns (loss, the x0 MSE term)."""
    pred = model(x0 + sigma[:, None, None] * noise, sigma, cond)  # B x W x D
    vm = loss_mask[:, 1:] * loss_mask[:, :-1]
    d, dv = (loss_mask.sum(), vm.sum()) if denom is None else denom
    err = ((pred.float() - x0) ** 2 * lip_w).mean(-1)  # B x W
    loss = (err * loss_mask).sum() / d.clamp_min(1)
    verr = (((pred[:, 1:] - pred[:, :-1]).float() - (x0[:, 1:] - x0[:, :-1])) ** 2 * lip_w).mean(-1)
    vloss = (verr * vm).sum() / dv.clamp_min(1)
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


def _save_state(folder, model, ema, opt, step, epoch, tcfg, rng_tensors=None, rng_meta=None):
    """Resumable training state without pickle: weights, optimizer state and generator states in safetensors, with
    the counters (step, epoch, TrainConfig, the sampler's generator) as JSON in its metadata, so that one rename
    replaces all of it; state.json repeats the JSON. ``rng_*``: ``anim3d.training.distributed.rng_state``."""
    import torch
    from safetensors.torch import save_file

    from anim3d.fileio import atomic_output, make_output_folder

    make_output_folder(folder)
    tensors = {f"model.{k}": v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors.update({f"ema.{k}": v.detach().float().cpu().contiguous() for k, v in ema.state_dict().items()})
    osd = opt.state_dict()
    for pid, st in osd["state"].items():
        for k, v in st.items():
            tensors[f"opt.{pid}.{k}"] = (v if hasattr(v, "detach") else torch.tensor(v)).detach().float().cpu().reshape(-1).contiguous() if k == "step" else v.detach().float().cpu().contiguous()
    tensors.update({k: v.contiguous() for k, v in (rng_tensors or {}).items()})
    meta = json.dumps({"step": step, "epoch": epoch, "train": dataclasses.asdict(tcfg), "rng": rng_meta})
    with atomic_output(os.path.join(folder, "state.safetensors")) as tmp:
        save_file(tensors, tmp, metadata={STATE_META: meta})  # the counters with the tensors: one file, one rename
    with atomic_output(os.path.join(folder, "state.json")) as tmp:  # the same, to read (and the mark of a state)
        with open(tmp, "w") as f:
            f.write(meta)


def _load_state(folder, model, ema, opt):
    """-> (step, epoch, the state's tensors, its JSON)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = os.path.join(folder, "state.safetensors")
    with safe_open(path, "pt") as f:
        saved = (f.metadata() or {}).get(STATE_META)
    if saved is None:  # a state saved before the counters went into it
        with open(os.path.join(folder, "state.json")) as f:
            saved = f.read()
    meta = json.loads(saved)
    t = load_file(path)
    model.load_state_dict({k[6:]: v for k, v in t.items() if k.startswith("model.")})
    ema.load_state_dict({k[4:]: v for k, v in t.items() if k.startswith("ema.")})
    osd = opt.state_dict()
    for key, v in t.items():
        if key.startswith("opt."):
            _, pid, name = key.split(".", 2)
            osd["state"].setdefault(int(pid), {})[name] = v.reshape(()) if name == "step" else v
    opt.load_state_dict(osd)
    return meta["step"], meta["epoch"], t, meta


def train(train_examples: list[Example], val_examples: list[Example], out_dir: str, tcfg: TrainConfig,
          device="cpu", resume: bool = False, log=print, accelerator=None) -> dict:
    """Train and write ``out_dir`` (the EMA checkpoint: config.json + model.safetensors, plus ``state/`` for resume
    and ``metrics.jsonl``). Returns the last metrics (validation ones on the main process).

    Runs under Hugging Face Accelerate: ``accelerator`` (``anim3d.training.distributed.make_accelerator``; by
    default one for ``device`` and ``tcfg.mixed_precision``) is this process's. Every process of a launch calls
    ``train`` with the same arguments; each computes its share of the global batch of ``tcfg.batch_size`` windows
    (in ``tcfg.grad_accum`` micro-batches), and the main process alone validates, logs and writes."""
    import contextlib

    import torch

    from anim3d.models.checkpoint import (
        load_checkpoint,
        read_config,
        read_inference,
        save_checkpoint,
    )
    from anim3d.models.config import InferenceConfig, get_config
    from anim3d.models.diffusion import sample_training_sigmas
    from anim3d.models.motion_transformer import MotionTransformer
    from anim3d.motion_codec import compute_stats
    from anim3d.progress import progress
    from anim3d.training.distributed import Share, make_accelerator, pick, restore_rng, rng_state, sum_and_max

    if not train_examples:
        raise Anim3dError("no training examples")
    if accelerator is None:
        accelerator = make_accelerator(device, tcfg.mixed_precision)
    device = accelerator.device
    share = Share.of(accelerator, tcfg.grad_accum, tcfg.batch_size)
    main = accelerator.is_main_process
    if not main:
        log = lambda s: None  # noqa: E731
    torch.manual_seed(tcfg.seed)
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

        if main:  # it writes into out_dir (what it returns only the main process uses)
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
    step, epoch0, saved, meta = 0, 0, {}, {}
    if resume:
        step, epoch0, saved, meta = _load_state(state_dir, model, ema, opt)
    total = tcfg.epochs * tcfg.steps_per_epoch
    sampler = WindowSampler(train_examples, cfg, tcfg, tcfg.seed + 1000 * epoch0)
    gen = torch.Generator().manual_seed(tcfg.seed + 7 + step)  # condition dropout and diffusion noise
    if share.world > 1:
        torch.manual_seed(tcfg.seed + 1 + share.rank)  # each process its own model-dropout masks
    if resume:  # the generators where they were (a state saved before they were kept: fresh seeds, as then)
        restore_rng(accelerator, saved, meta.get("rng"), sampler, gen, log)
        log(f"resumed from {state_dir} at epoch {epoch0}, step {step}")
    lip_w = torch.ones(cfg.motion_dim)
    lip_w[LIP_CHANNELS] = tcfg.lip_weight
    lip_w = (lip_w / lip_w.mean()).to(device)
    raw = model
    model, opt = accelerator.prepare(model, opt)  # DDP over the processes; mixed precision
    B, rows = tcfg.batch_size, share.rows(tcfg.batch_size)
    rows_t = None if rows is None else torch.as_tensor(rows)
    micro = [slice(None)] if share.accum == 1 else share.micro(B)
    t_start = time.time()

    def elapsed() -> float:  # seconds since the start, the same on every process
        return sum_and_max(accelerator, 0.0, time.time() - t_start)[1]

    metrics: dict = {}
    for epoch in range(epoch0, tcfg.epochs):
        model.train()
        losses = []
        steps = range(tcfg.steps_per_epoch)
        bar = progress(steps, desc=f"epoch {epoch + 1}/{tcfg.epochs}", total=tcfg.steps_per_epoch, unit="step") if main else steps
        for _ in bar:
            frac = step / max(total, 1)  # schedule progress: by steps, or by time when a time budget is set
            if tcfg.max_minutes:
                frac = max(frac, elapsed() / (tcfg.max_minutes * 60))
            lr = tcfg.lr * min(1.0, (step + 1) / tcfg.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))
            for g in opt.param_groups:
                g["lr"] = lr
            # the global batch's draws, this process's share of its windows (all of them on one process)
            x0, mask, cond = sampler.batch(B, rows)  # b x W x D, b x W
            cond = random_dropout(cond, tcfg, gen, rows_t, B)
            sigma = pick(sample_training_sigmas(B, generator=gen), rows_t).to(device)  # b
            noise = pick(torch.randn((B, cfg.window, cfg.motion_dim), generator=gen), rows_t).to(device)  # b x W x D
            x0, mask = x0.to(device), mask.to(device)
            cond = {k: v.to(device) for k, v in cond.items()}
            denom = None  # one share, one micro-batch: the batch's own mask sums
            if share.world > 1 or share.accum > 1:
                denom = torch.stack([mask.sum(), (mask[:, 1:] * mask[:, :-1]).sum()])
                denom = accelerator.reduce(denom, "sum") if share.world > 1 else denom
            opt.zero_grad(set_to_none=True)
            mse = 0.0
            for i, part in enumerate(micro):
                sync = contextlib.nullcontext() if i == len(micro) - 1 else accelerator.no_sync(model)
                with sync:
                    loss, part_mse = diffusion_loss(model, x0[part], mask[part], {k: v[part] for k, v in cond.items()},
                                                    sigma[part], noise[part], tcfg, lip_w, denom)
                    accelerator.backward(loss * share.loss_scale if share.world > 1 else loss)
                mse = mse + part_mse
            accelerator.unscale_gradients()
            torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
            opt.step()
            step += 1
            with torch.no_grad():
                d = min(tcfg.ema, (1 + step) / (10 + step))
                for pe, pm in zip(ema.parameters(), raw.parameters()):
                    pe.lerp_(pm, 1 - d)
            batch_mse, now = sum_and_max(accelerator, float(mse), time.time() - t_start)
            losses.append(batch_mse)
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
            if tcfg.max_minutes and now > tcfg.max_minutes * 60:
                break
        metrics = {"epoch": epoch + 1, "step": step, "loss": float(np.mean(losses)), "minutes": (time.time() - t_start) / 60}
        if val_examples and main:
            metrics.update(validate(ema, cfg, val_examples, tcfg, device, inference))
        log(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()))
        rng_tensors, rng_meta = rng_state(accelerator, sampler, gen)  # every process's generators, to the main one
        if main:  # written once
            save_checkpoint(out_dir, ema, cfg, {"train": dataclasses.asdict(tcfg), "metrics": metrics}, inference)
            _save_state(state_dir, raw, ema, opt, step, epoch + 1, tcfg, rng_tensors, rng_meta)
            with open(os.path.join(out_dir, "metrics.jsonl"), "a") as f:
                f.write(json.dumps(metrics) + "\n")
        accelerator.wait_for_everyone()
        if tcfg.max_minutes and elapsed() > tcfg.max_minutes * 60:
            log(f"time budget of {tcfg.max_minutes} min used up after epoch {epoch + 1}")
            break
    return metrics
