"""Reference values from TRL (pinned in the test venv) for the Bradley-Terry reward-model loss.

Runs TRL's own RewardTrainer.compute_loss on random float64 scores (a stand-in model returns them as
logits, chosen rows first, as TRL's collator stacks them) without a margin, with a per-pair margin,
and with center_rewards_coefficient 0.01, and writes inputs and losses to a safetensors file that
tests/unit/algo/test_reward_model.cpp compares with algo::bradley_terry_loss.
usage: trl_reward.py OUT.safetensors
"""
import sys
import types
from collections import defaultdict

import torch
from safetensors.torch import save_file
from trl.trainer.reward_trainer import RewardTrainer

torch.manual_seed(0)
P = 16
chosen = torch.randn(P, dtype=torch.float64) * 2
rejected = torch.randn(P, dtype=torch.float64) * 2
margin = torch.rand(P, dtype=torch.float64)


class StandIn:
    training = True

    def __call__(self, **inputs):
        return types.SimpleNamespace(logits=torch.cat([chosen, rejected]).unsqueeze(-1))


def trl_loss(center, with_margin):
    model = StandIn()
    fake = types.SimpleNamespace(
        model=model,
        args=types.SimpleNamespace(center_rewards_coefficient=center),
        accelerator=types.SimpleNamespace(gather=lambda x: x, gather_for_metrics=lambda x: x),
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
        _total_train_tokens=0,
        _tp_size=1,
    )
    inputs = {"input_ids": torch.zeros(2 * P, 3, dtype=torch.long), "attention_mask": torch.ones(2 * P, 3, dtype=torch.long)}
    if with_margin:
        inputs["margin"] = margin
    loss = RewardTrainer.compute_loss(fake, model, inputs)
    return loss.detach().reshape(1), fake._metrics["train"]


out = {"chosen": chosen, "rejected": rejected, "margin": margin}
out["loss_plain"], metrics = trl_loss(None, False)
out["loss_margin"], _ = trl_loss(None, True)
out["loss_center"], _ = trl_loss(0.01, False)
out["accuracy"] = torch.tensor([metrics["accuracy"][0]], dtype=torch.float64)
out["mean_margin"] = torch.tensor([metrics["margin"][0]], dtype=torch.float64)
save_file({k: v.contiguous() for k, v in out.items()}, sys.argv[1])
