"""Reference values from TRL (pinned in the test venv) for the GRPO-family losses and advantages.

GRPOTrainer._compute_loss runs TRL's own code on random float64 inputs, with a stand-in for the model's
per-token log-probs; loss_type grpo, bnpo, dr_grpo, dapo; token- and sequence-level importance
sampling; beta 0 and beta > 0 (k3 KL); loss_type cispo (epsilon_high = the weight cap). Advantages: TRL's
group / batch / none normalization with its nanstd, as in GRPOTrainer._generate_and_score_completions;
RLOO's leave-one-out baseline as RLOOTrainer._generate_and_score_completions computes it (NaN-aware);
REINFORCE++ and REINFORCE++-baseline as verl's core_algos.py computes them (returns tiled over the
completion tokens, gamma 1, masked_whiten with the unbiased variance).
usage: trl_grpo.py OUT.safetensors
"""
import sys
import types
from collections import defaultdict

import torch
from safetensors.torch import save_file
from trl.trainer.grpo_trainer import GRPOTrainer
from trl.trainer.utils import nanstd

torch.manual_seed(0)
B, T, G = 8, 7, 4
out = {}
lens = torch.randint(1, T + 1, (B,))
mask = (torch.arange(T).unsqueeze(0) < lens.unsqueeze(1)).long()
logps = -torch.rand(B, T, dtype=torch.float64) * 2
old = logps + torch.randn(B, T, dtype=torch.float64) * 0.3
ref = logps + torch.randn(B, T, dtype=torch.float64) * 0.2
adv = torch.randn(B, dtype=torch.float64)
out.update(mask=mask.to(torch.float64), logps=logps, old=old, ref=ref, adv=adv)
max_completion_length = 9
out["max_completion_length"] = torch.tensor([float(max_completion_length)], dtype=torch.float64)

accel = types.SimpleNamespace(num_processes=1, gather=lambda x: x, gather_for_metrics=lambda x: x,
                              reduce=lambda x, reduction="sum": x, sync_gradients=True)


def compute(loss_type, level, beta, eps_low=0.2, eps_high=0.28):
    args = types.SimpleNamespace(use_bias_correction_kl=False, delta=None, steps_per_generation=1)
    self = types.SimpleNamespace(
        top_entropy_quantile=1.0, off_policy_mask_threshold=None, importance_sampling_level=level, beta=beta,
        args=args, loss_type=loss_type, epsilon_low=eps_low, epsilon_high=eps_high, use_vllm=False,
        model=types.SimpleNamespace(training=True), current_gradient_accumulation_steps=1,
        max_completion_length=max_completion_length, accelerator=accel, _entropy_bonus_enabled=False,
        aux_loss_enabled=False, _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
        vllm_importance_sampling_correction=False)
    self._get_per_token_logps_and_entropies = lambda *a, **k: (logps, torch.zeros_like(logps), None)
    inputs = {"prompt_ids": torch.zeros(B, 2, dtype=torch.long), "prompt_mask": torch.ones(B, 2, dtype=torch.long),
              "completion_ids": torch.zeros(B, T, dtype=torch.long), "completion_mask": mask,
              "advantages": adv, "old_per_token_logps": old, "ref_per_token_logps": ref,
              "num_items_in_batch": mask.sum().to(torch.float64)}
    return GRPOTrainer._compute_loss(self, None, inputs)


for loss_type in ("grpo", "bnpo", "dr_grpo", "dapo"):
    for level in ("token", "sequence"):
        for beta in (0.0, 0.04):
            out[f"loss_{loss_type}_{level}_{beta}"] = compute(loss_type, level, beta).reshape(1).to(torch.float64)
for level in ("token", "sequence"):
    for beta in (0.0, 0.04):
        # A cap of 1.2 so that some weights (up to ~e^0.9) are capped.
        out[f"loss_cispo_{level}_{beta}"] = compute("cispo", level, beta, eps_high=1.2).reshape(1).to(torch.float64)

rewards = torch.rand(B * G // 2, dtype=torch.float64).round(decimals=1)
rewards[4:8] = 0.5  # a group with equal rewards: zero std
out["rewards"] = rewards
for scale in ("group", "batch", "none"):
    g = rewards.view(-1, G)
    mean = torch.nanmean(g, dim=1).repeat_interleave(G, dim=0)
    if scale == "group":
        std = nanstd(g, dim=1).repeat_interleave(G, dim=0)
    elif scale == "batch":
        std = nanstd(rewards).expand_as(rewards)
    a = rewards - mean
    if scale != "none":
        a = a / (std + 1e-4)
    out[f"adv_{scale}"] = a

# RLOO (TRL RLOOTrainer): a NaN (unscorable) reward, and a group with a single scorable completion.
rl = torch.rand(16, dtype=torch.float64).round(decimals=1)
rl[2] = torch.nan
rl[8:11] = torch.nan
out["rloo_rewards"] = rl
g = rl.view(-1, G)
counts = (~torch.isnan(g)).sum(dim=1, keepdim=True)
baselines = ((torch.nansum(g, dim=1, keepdim=True) - g) / (counts - 1)).view(-1)
out["adv_rloo"] = torch.nan_to_num(rl - baselines, nan=0.0)


# REINFORCE++ (verl core_algos): token-level rewards hold the score at the last completion token.
def masked_mean(x, m):
    return (x * m).sum() / m.sum()


def masked_whiten(x, m):
    mean = masked_mean(x, m)
    var = masked_mean((x - mean) ** 2, m) * (m.sum() / (m.sum() - 1))
    return (x - mean) * torch.rsqrt(var + 1e-8)


scores = torch.randn(16, dtype=torch.float64)
rlens = torch.randint(1, T + 1, (16,))
rmask = (torch.arange(T).unsqueeze(0) < rlens.unsqueeze(1)).to(torch.float64)
out.update(rpp_scores=scores, rpp_lens=rlens.to(torch.float64))
token_rewards = torch.zeros(16, T, dtype=torch.float64)
token_rewards[torch.arange(16), rlens - 1] = scores
returns = torch.zeros_like(token_rewards)
running = 0
for t in reversed(range(T)):
    running = token_rewards[:, t] + 1.0 * running
    returns[:, t] = running
    running = running * rmask[:, t]
adv = masked_whiten(returns, rmask) * rmask
out["adv_reinforce_pp"] = adv[:, 0]  # constant along each completion (gamma 1)
out["adv_reinforce_pp_spread"] = ((adv - adv[:, :1]) * rmask).abs().max().reshape(1)
gs = scores.view(-1, G)
base = (gs - gs.mean(dim=1, keepdim=True)).view(-1)
tiled = base.unsqueeze(-1).tile([1, T]) * rmask
out["adv_reinforce_pp_baseline"] = (masked_whiten(tiled, rmask) * rmask)[:, 0]
save_file({k: v.contiguous() for k, v in out.items()}, sys.argv[1])
print(f"wrote {len(out)} tensors")
