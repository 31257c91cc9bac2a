"""Reference values from TRL (pinned in the test venv) for the KTO loss.

Runs TRL's own KTOTrainer._compute_loss (loss_type kto) on random float64 completion log-probs with a
stand-in model (it returns given per-token log-probs), precomputed reference log-probs, and given KL
log-probs of the mismatched pairs, at two settings of beta and the desirable/undesirable weights, and
writes inputs, losses and metrics to a safetensors file that tests/unit/algo/test_kto.cpp compares
with algo::kto_loss.
usage: trl_kto.py OUT.safetensors
"""
import sys
import types
from collections import defaultdict

import torch
from safetensors.torch import save_file
from trl.trainer.kto_trainer import KTOTrainer

torch.manual_seed(0)
N, L = 10, 6
labels = [True, False, True, True, False, False, True, False, True, True]
token_logps = -torch.rand(N, L - 1, dtype=torch.float64) * 2
logps = token_logps.sum(-1)
ref = logps + torch.randn(N, dtype=torch.float64) * 0.7
kl_logps = -torch.rand(N, dtype=torch.float64) * 6
ref_kl_logps = kl_logps - torch.randn(N, dtype=torch.float64) * 0.5 - 0.3  # a positive mean: z0 > 0
out = {"logps": logps, "ref_logps": ref, "labels": torch.tensor(labels, dtype=torch.float64),
       "kl_logps": kl_logps, "ref_kl_logps": ref_kl_logps}


class StandIn:
    training = True

    def __call__(self, **kwargs):
        z = torch.zeros_like(token_logps)
        return types.SimpleNamespace(log_probs=token_logps, entropy=z, mean_logits=z)


def compute(beta, wd, wu):
    model = StandIn()
    accel = types.SimpleNamespace(device=torch.device("cpu"), gather_for_metrics=lambda x: x, gather=lambda x: x)
    self = types.SimpleNamespace(
        model=model, accelerator=accel, calculate_KL=True, precompute_ref_logps=True, loss_type="kto", beta=beta,
        desirable_weight=wd, undesirable_weight=wu, aux_loss_enabled=False, _total_train_tokens=0, _tp_size=1,
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)})
    self._compute_kl_logps = lambda m, b: kl_logps
    batch = {"label": torch.tensor(labels), "input_ids": torch.zeros(N, L, dtype=torch.long),
             "attention_mask": torch.ones(N, L, dtype=torch.long), "completion_mask": torch.ones(N, L, dtype=torch.long),
             "ref_logps": ref, "ref_KL_logps": ref_kl_logps}
    loss = KTOTrainer._compute_loss(self, model, batch, False)
    m = self._metrics["train"]
    return loss, m


for name, beta, wd, wu in (("a", 0.1, 1.0, 1.0), ("b", 0.5, 1.33, 0.8)):
    loss, m = compute(beta, wd, wu)
    out[f"loss_{name}"] = loss.detach().reshape(1).to(torch.float64)
    for k in ("kl", "rewards/chosen", "rewards/rejected"):
        out[f"{name}_{k.replace('/', '_')}"] = torch.tensor([m[k][-1]], dtype=torch.float64)
save_file({k: v.contiguous() for k, v in out.items()}, sys.argv[1])
