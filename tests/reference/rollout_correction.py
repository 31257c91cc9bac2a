"""Reference values for the off-policy correction, written out in float64 from TRL's GRPOTrainer
(_generate_and_score_completions, vllm_importance_sampling_mode: the log-ratio of the trainer's
old policy over the sampling engine's, masked; summed per sequence for the sequence modes; exp;
truncate = clamp(min, max), mask = the ratio set to 0 outside [min, max]; the per-token loss is
multiplied by it before the KL term is added) and verl's rollout-correction metrics (Kish's
effective sample size, (sum w)^2 / (n sum w^2)).
usage: rollout_correction.py OUT.safetensors
"""
import sys

import torch
from safetensors.torch import save_file

torch.manual_seed(1)
B, T = 5, 7
lens = torch.tensor([7, 3, 5, 1, 6])
mask = (torch.arange(T).unsqueeze(0) < lens.unsqueeze(1)).to(torch.float64)
prox = -torch.rand(B, T, dtype=torch.float64) * 3
behav = prox + torch.randn(B, T, dtype=torch.float64) * 0.4
behav[3, 0] = prox[3, 0] - 3.0  # a token far off-policy
out = dict(mask=mask, prox=prox, behav=behav)
lo, hi = 0.5, 2.0


def weights(mode):
    diff = (prox - behav) * mask
    seq = mode.startswith("sequence")
    ratio = torch.exp(diff.sum(-1, keepdim=True) if seq else diff)
    if mode.endswith("truncate"):
        ratio = torch.clamp(ratio, min=lo, max=hi)
    else:
        ratio = ratio.masked_fill((ratio < lo) | (ratio > hi), 0.0)
    units = (mask.sum(-1, keepdim=True) > 0).to(torch.float64) if seq else mask
    w = ratio * units
    ess = w.sum() ** 2 / (units.sum() * (w * w).sum())
    return (ratio.expand(B, T) if seq else ratio) * mask, w.sum() / units.sum(), ess, ((w == 0) * units).sum()


for mode in ["token_truncate", "token_mask", "sequence_truncate", "sequence_mask"]:
    w, mean, ess, masked = weights(mode)
    out[mode] = w
    out[mode + "_mean"] = mean.reshape(1)
    out[mode + "_ess"] = ess.reshape(1)
    out[mode + "_masked"] = masked.reshape(1)

# The corrected GRPO token loss (clipped surrogate, eps 0.2, k3 KL with beta 0.04) under token_truncate.
logp = prox + torch.randn(B, T, dtype=torch.float64) * 0.1
ref = prox + torch.randn(B, T, dtype=torch.float64) * 0.1
adv = torch.randn(B, dtype=torch.float64).unsqueeze(1)
coef_1 = torch.exp(logp - prox)
coef_2 = torch.clamp(coef_1, 1 - 0.2, 1 + 0.2)
per_token = -torch.min(coef_1 * adv, coef_2 * adv)
per_token = per_token * out["token_truncate"]
per_token = per_token + 0.04 * (torch.exp(ref - logp) - (ref - logp) - 1)
out.update(logp=logp, ref=ref, adv=adv.squeeze(1), corrected_per_token=per_token * mask)
save_file({k: v.contiguous() for k, v in out.items()}, sys.argv[1])
