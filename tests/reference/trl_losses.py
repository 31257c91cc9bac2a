"""Reference values from TRL (pinned in the test venv) for the preference and distillation losses.

Runs TRL's own code on random float64 inputs and writes inputs and outputs to a safetensors file that
tests/unit/algo/test_trl_parity.cpp compares against our pure loss functions:
  - DPOTrainer._compute_loss (loss_type sigmoid, hinge, ipo, robust, and sigmoid + sft = RPO), driven
    with precomputed reference log-probs and a stand-in model that returns given per-token log-probs;
  - CPOTrainer.cpo_loss for SimPO and the label-smoothed sigmoid (cDPO);
  - ORPOTrainer.odds_ratio_loss (its per-pair odds-ratio term, on mean token log-probs; it computes in
    float32);
  - GKDTrainer.generalized_jsd_loss at beta 0, 0.5, 1 and temperatures 1 and 2.
usage: trl_losses.py OUT.safetensors
"""
import sys
import types
from collections import defaultdict

import torch
from safetensors.torch import save_file
from trl.experimental.cpo.cpo_trainer import CPOTrainer
from trl.experimental.gkd.gkd_trainer import GKDTrainer
from trl.experimental.orpo.orpo_trainer import ORPOTrainer
from trl.trainer.dpo_trainer import DPOTrainer

torch.manual_seed(0)
P, L = 12, 9
out = {}

# Per-token log-probs of chosen (rows 0..P-1) and rejected (rows P..2P-1) answers.
lens = torch.randint(1, L - 1, (2 * P,))
completion_mask = torch.zeros(2 * P, L, dtype=torch.long)
for i, n in enumerate(lens.tolist()):
    completion_mask[i, 1 : 1 + n] = 1  # token 0 is the prompt
shift_mask = completion_mask[:, 1:]
token_logps = (-torch.rand(2 * P, L - 1, dtype=torch.float64) * 3) * shift_mask
ref_logps = -torch.rand(2 * P, dtype=torch.float64) * 3 * lens
out["token_logps"] = token_logps
out["shift_mask"] = shift_mask.to(torch.float64)
out["lens"] = lens.to(torch.float64)
out["ref_chosen"], out["ref_rejected"] = ref_logps[:P].clone(), ref_logps[P:].clone()


class StandInModel:
    training = True

    def __call__(self, **kw):
        z = torch.zeros_like(token_logps)
        return types.SimpleNamespace(log_probs=token_logps, entropy=z, mean_logits=z, is_top1=z.bool())


accel = types.SimpleNamespace(device="cpu", gather_for_metrics=lambda x: x, gather=lambda x: x)


def dpo(loss_types, weights, beta, label_smoothing=0.0):
    self = types.SimpleNamespace(
        model=StandInModel(), accelerator=accel, aux_loss_enabled=False, ld_alpha=None, precompute_ref_logps=True,
        f_divergence_type="reverse_kl", loss_types=loss_types, loss_weights=weights, beta=beta,
        label_smoothing=label_smoothing, use_weighting=False, _metrics={"train": defaultdict(list)},
        _total_train_tokens=0, _tp_size=1)
    inputs = {"input_ids": torch.zeros(2 * P, L, dtype=torch.long), "attention_mask": torch.ones(2 * P, L),
              "completion_mask": completion_mask, "ref_chosen_logps": out["ref_chosen"],
              "ref_rejected_logps": out["ref_rejected"]}
    loss = DPOTrainer._compute_loss(self, self.model, inputs, False)
    m = self._metrics["train"]
    return loss, {k: torch.tensor([v[0]], dtype=torch.float64) for k, v in m.items() if k.startswith(("rewards", "logps"))}


for name, types_, weights, beta, ls in [("sigmoid", ["sigmoid"], [1.0], 0.1, 0.0), ("hinge", ["hinge"], [1.0], 0.3, 0.0),
                                        ("ipo", ["ipo"], [1.0], 0.4, 0.0), ("robust", ["robust"], [1.0], 0.2, 0.2),
                                        ("rpo", ["sigmoid", "sft"], [1.0, 0.7], 0.1, 0.0)]:
    loss, metrics = dpo(types_, weights, beta, ls)
    out[f"dpo_{name}_loss"] = loss.reshape(1).to(torch.float64)
    for k, v in metrics.items():
        out[f"dpo_{name}_{k.replace('/', '_')}"] = v

seq = (token_logps * shift_mask).sum(1)
avg = seq / shift_mask.sum(1)
for name, loss_type, chosen, rejected, beta, ls in [
        ("cdpo", "sigmoid", seq[:P] - out["ref_chosen"], seq[P:] - out["ref_rejected"], 0.1, 0.2),
        ("simpo", "simpo", avg[:P], avg[P:], 2.0, 0.0), ("simpo_ls", "simpo", avg[:P], avg[P:], 2.5, 0.1)]:
    self = types.SimpleNamespace(alpha=0.0, accelerator=accel, loss_type=loss_type, beta=beta, label_smoothing=ls,
                                 simpo_gamma=0.5)
    losses, cr, rr = CPOTrainer.cpo_loss(self, chosen, rejected)
    out[f"cpo_{name}_losses"] = losses.to(torch.float64)

for beta in (0.1, 0.5):
    self = types.SimpleNamespace(beta=beta, accelerator=types.SimpleNamespace(device=torch.device("cpu")))
    losses, cr, rr, _, _ = ORPOTrainer.odds_ratio_loss(self, avg[:P], avg[P:])
    out[f"orpo_b{beta}_losses"] = losses.to(torch.float64)  # beta·logσ(log odds): TRL subtracts its mean

B, T, V = 3, 7, 11
student = torch.randn(B, T, V, dtype=torch.float64) * 2
teacher = torch.randn(B, T, V, dtype=torch.float64) * 2
labels = torch.randint(0, V, (B, T))
labels[0, :2] = -100
labels[2, 5:] = -100
out["student_logits"], out["teacher_logits"], out["labels"] = student, teacher, labels.to(torch.float64)
for beta in (0.0, 0.5, 1.0):
    for temp in (1.0, 2.0):
        v = GKDTrainer.generalized_jsd_loss(student, teacher, labels=labels, beta=beta, temperature=temp,
                                            reduction="batchmean")
        out[f"jsd_b{beta}_t{temp}"] = v.reshape(1).to(torch.float64)

save_file({k: v.contiguous() for k, v in out.items()}, sys.argv[1])
print(f"wrote {len(out)} tensors to {sys.argv[1]}")
