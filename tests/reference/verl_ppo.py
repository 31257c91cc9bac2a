"""Reference values for PPO's critic-side formulas, written out from verl's trainer/ppo/core_algos.py
(verl is not in the test venv; these are its definitions line for line, in float64):
  compute_gae_advantage_return — the mask-aware recursion (positions with response_mask 0, e.g. tool
    output inside a multi-turn response, pass the next value and advantage through), returns =
    advantages + values, then masked_whiten of the advantages (unbiased variance, 1e-8);
  compute_value_loss — 0.5 x max((v - R)^2, (clip(v, v_old - c, v_old + c) - R)^2), token-mean,
    and vf_clipfrac;
  compute_policy_loss (vanilla) with dual clip: clip_ratio_c caps the loss of negative advantages.
usage: verl_ppo.py OUT.safetensors
"""
import sys

import torch
from safetensors.torch import save_file

torch.manual_seed(0)
B, T = 6, 9
out = {}
lens = torch.randint(2, T + 1, (B,))
mask = (torch.arange(T).unsqueeze(0) < lens.unsqueeze(1)).to(torch.float64)
mask[0, 1] = 0  # an observation token inside a response
mask[3, 2:4] = 0
values = torch.randn(B, T, dtype=torch.float64) * mask
scores = torch.randn(B, dtype=torch.float64)
token_rewards = torch.zeros(B, T, dtype=torch.float64)
last = (mask * (torch.arange(T) + 1)).amax(1).long() - 1
token_rewards[torch.arange(B), last] = scores
gamma, lam = 0.99, 0.9
out.update(mask=mask, values=values, scores=scores, token_rewards=token_rewards)


def masked_mean(x, m):
    return (x * m).sum() / m.sum()


def masked_whiten(x, m):
    mean = masked_mean(x, m)
    var = masked_mean((x - mean) ** 2, m) * (m.sum() / (m.sum() - 1))
    return (x - mean) * torch.rsqrt(var + 1e-8)


nextvalues, lastgaelam, rev = 0, 0, []
for t in reversed(range(T)):
    delta = token_rewards[:, t] + gamma * nextvalues - values[:, t]
    lastgaelam_ = delta + gamma * lam * lastgaelam
    nextvalues = values[:, t] * mask[:, t] + (1 - mask[:, t]) * nextvalues
    lastgaelam = lastgaelam_ * mask[:, t] + (1 - mask[:, t]) * lastgaelam
    rev.append(lastgaelam)
advantages = torch.stack(rev[::-1], dim=1)
out["gae_returns"] = advantages + values
out["gae_advantages_raw"] = advantages
out["gae_advantages"] = masked_whiten(advantages, mask) * mask

# Value loss with clipping.
vpreds = values + torch.randn(B, T, dtype=torch.float64) * 0.8
returns = out["gae_returns"]
c = 0.5
vclipped = torch.max(torch.min(vpreds, values + c), values - c)
l1, l2 = (vpreds - returns) ** 2, (vclipped - returns) ** 2
out.update(vpreds=vpreds)
out["value_loss"] = (0.5 * masked_mean(torch.max(l1, l2), mask)).reshape(1)
out["value_clipfrac"] = masked_mean(torch.gt(l2, l1).double(), mask).reshape(1)

# Vanilla policy loss with dual clip, token-level advantages.
logp = -torch.rand(B, T, dtype=torch.float64) * 2
old = logp - torch.randn(B, T, dtype=torch.float64).abs() * 1.5  # ratios well above 3 occur
adv = torch.randn(B, T, dtype=torch.float64) * 2
eps_low, eps_high, clip_c = 0.2, 0.28, 3.0
ratio = torch.exp(torch.clamp(logp - old, -20.0, 20.0))
pg1 = -adv * ratio
pg2 = -adv * torch.clamp(ratio, 1 - eps_low, 1 + eps_high)
clip1 = torch.maximum(pg1, pg2)
pg3 = -adv * clip_c
clip2 = torch.min(pg3, clip1)
pg = torch.where(adv < 0, clip2, clip1)
out.update(pg_logp=logp, pg_old=old, pg_adv=adv)
out["pg_loss"] = masked_mean(pg, mask).reshape(1)
out["pg_per_token"] = pg * mask
out["pg_dual_clipped"] = (torch.gt(clip1, pg3) * (adv < 0)).double().sum().reshape(1)
# REINFORCE++ with the KL in the reward (verl: apply_kl_penalty with kl_penalty "kl" = k1, then
# compute_reinforce_plus_plus_outcome_advantage): contiguous completions.
cmask = (torch.arange(T).unsqueeze(0) < lens.unsqueeze(1)).to(torch.float64)
k_old = -torch.rand(B, T, dtype=torch.float64) * 2
k_ref = k_old + torch.randn(B, T, dtype=torch.float64) * 0.3
beta = 0.05
shaped = torch.zeros(B, T, dtype=torch.float64)
shaped[torch.arange(B), lens - 1] = scores
shaped = shaped - beta * (k_old - k_ref) * cmask
returns = torch.zeros_like(shaped)
running = 0
for t in reversed(range(T)):
    running = shaped[:, t] + 1.0 * running
    returns[:, t] = running
    running = running * cmask[:, t]
out.update(rpp_mask=cmask, rpp_old=k_old, rpp_ref=k_ref, rpp_beta=torch.tensor([beta], dtype=torch.float64))
out["rpp_kl_advantages"] = masked_whiten(returns, cmask) * cmask
save_file({k: v.contiguous() for k, v in out.items()}, sys.argv[1])
print(f"wrote {len(out)} tensors")
