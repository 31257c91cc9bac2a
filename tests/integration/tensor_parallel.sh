#!/usr/bin/env bash
# Tensor parallelism on CPU ranks (mpirun, oversubscribed): column/row-parallel attention and MLP,
# vocabulary-parallel embedding, LM head and chunked cross-entropy. Against one rank:
#  - quickstart Qwen2 (q/k/v biases, tied embeddings): tp 2 and a 2 x 2 dp x tp mesh train the same
#    8 losses (1e-5 relative) and gradient norms (clipping counts replicated parameters once); the
#    exports give transformers the same logits;
#  - Qwen3-MoE (q/k norms, experts split by width, untied head), Gemma 3 (sandwich norms, scaled
#    embeddings) at tp 2, a Qwen3 with 4 key/value heads at tp 4, DPO (frozen reference split too)
#    on the 2 x 2 mesh, activation checkpointing at tp 2: the same losses (evaluation losses included);
#  - checkpoints hold whole tensors: a 2 x 2 checkpoint resumes on 1 rank and on tp 2, a 1-rank
#    checkpoint on the 2 x 2 mesh, each continuing the same curve;
#  - fsdp ZeRO-1 / ZeRO-2 on the mesh's data-parallel axis: the same curve, per-rank optimizer bytes
#    halved again; resumed on another data-parallel size, refused on another tp;
#  - fsdp ZeRO-3 on the mesh (FSDP x TP): sharded loading of each slice, the same curve, per-rank
#    parameter / gradient / optimizer bytes halved again, per-slice model shards resumed on another
#    data-parallel size, refused on another tp, exported by `posttrain export` to the run's model;
#  - multi-turn episodes at tp 2 (guess_number, and the recommender's external simulator): the same
#    episodes, rewards and turns as one rank
#  - GRPO at tp 2 (rollouts from the split model): identical rewards; evaluation with generation on
#    the 2 x 2 mesh: identical exact-match accuracy;
#  - LoRA (every projection, the embedding, an untied LM head; dropout) at tp 2 and on the 2 x 2 mesh:
#    the same losses and adapters as without tensor parallelism (also with ZeRO-3 on the mesh),
#    resumed on one rank;
#  - classification (sequence, token and projection heads) at tp 2 and distillation (forward KL at
#    tp 2, tempered top-k JSD on the 2 x 2 mesh): the same losses as one rank;
#  - layouts that cannot be split are refused with the reason.
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_PYTHON:?}"
if ! command -v mpirun > /dev/null; then echo "SKIP: no mpirun"; exit 77; fi
"$POSTTRAIN" version | grep -q "mpi *yes" || { echo "SKIP: built without MPI"; exit 77; }
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
mpi() { local n=$1; shift; mpirun --allow-run-as-root --oversubscribe -np "$n" "$@"; }
qs=examples/quickstart
common=(--set run.output_dir="$tmp" --set trainer.eval.generate=false --set trainer.eval.max_new_tokens=64 --set logging.every=1 --set schedule.warmup_steps=2
        --set parallel.bucket_mb=0.25)
long=(--set trainer.max_steps=8 --set checkpoint.every=4 --set checkpoint.keep_last=3 --set trainer.eval.every=0)
short=(--set trainer.max_steps=6 --set checkpoint.every=0 --set checkpoint.save_final=false --set trainer.eval.every=3)
train() {  # NAME RANKS RECIPE ARGS...
  local name=$1 n=$2 recipe=$3; shift 3
  if [ "$n" = 1 ]; then "$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name="$name" "$@" > "$tmp/$name.log" 2>&1
  else mpi "$n" "$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name="$name" "$@" > "$tmp/$name.log" 2>&1; fi \
    || { cat "$tmp/$name.log"; fail "$name"; }
}
same() {  # WEIGHT_TOL REFERENCE RUN... : every logged loss (and grad norm — GRAD_TOL —, eval loss) within 1e-5 relative
  "$PT_PYTHON" - "$tmp" "$@" <<'PY'
import glob, json, os, sys
from safetensors.numpy import load_file
t, tol, ref, runs = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4:]
grad_tol = float(os.environ.get("GRAD_TOL", "1e-5"))
def series(r, key):
    return [json.loads(l)[key] for l in open(f"{t}/{r}/metrics.jsonl") if f'"{key}"' in l]
def weights(r):
    w = {}
    for f in glob.glob(f"{t}/{r}/model/*.safetensors"):
        w.update(load_file(f))
    return w
for r in runs:
    out = []
    for key in ("loss", "grad_norm", "eval/loss"):
        a, b = series(ref, key), series(r, key)
        assert len(a) == len(b) and (key == "eval/loss" or len(a) >= 6), (r, key, a, b)
        if a:
            rel = max(abs(x - y) / abs(x) for x, y in zip(a, b))
            assert rel < (grad_tol if key == "grad_norm" else 1e-5), (r, key, a, b)
            out.append(f"{len(a)} {key} within {rel:.1e}")
    if tol > 0:
        wa, wb = weights(ref), weights(r)
        diff = max(float(abs(wa[k] - wb[k]).max()) for k in wa)
        assert wa.keys() == wb.keys() and diff < tol, (r, diff)
        out.append(f"final weights within {diff:.1e}")
    print(f"{r} vs {ref}: " + ", ".join(out))
PY
}

# Quickstart model: 1 rank, tp 2, dp 2 x tp 2.
train one 1 $qs/recipe.yaml "${long[@]}"
train tp2 2 $qs/recipe.yaml "${long[@]}" --set parallel.tensor_parallel=2
train dp2tp2 4 $qs/recipe.yaml "${long[@]}" --set parallel.tensor_parallel=2
grep -q "tensor parallelism: rank 0 of 2 in its group, data-parallel rank 0 of 2" "$tmp/dp2tp2.log" \
  || { cat "$tmp/dp2tp2.log"; fail "no mesh line"; }
grep -q "ddp over 2 rank(s)" "$tmp/dp2tp2.log" || fail "the 2 x 2 mesh did not run ddp over 2 ranks"
# Weights: the row-parallel sums run in another order, and AdamW's first steps move an element by
# about lr whatever its gradient's size, so a near-zero gradient's rounding shows up to ~1e-5.
same 1e-4 one tp2 dp2tp2
"$PT_PYTHON" - "$tmp" <<'PY'
import sys, torch, transformers as tf
t = sys.argv[1]
ids = torch.randint(3, 300, (2, 48), generator=torch.Generator().manual_seed(0))
def logits(r):
    m = tf.AutoModelForCausalLM.from_pretrained(f"{t}/{r}/model", torch_dtype=torch.float32)
    with torch.no_grad():
        return m(ids).logits
ref = logits("one")
for r in ("tp2", "dp2tp2"):
    d = (logits(r) - ref).abs().max().item()
    assert d < 1e-3 * ref.abs().max().item(), (r, d)
    print(f"transformers' logits of the {r} export vs the 1-rank export: max diff {d:.1e} (logits up to {ref.abs().max().item():.1f})")
PY
# Per-rank parameter bytes: the split tensors halve.
"$PT_PYTHON" - "$tmp" <<'PY'
import re, sys
t = sys.argv[1]
from safetensors import safe_open
mb = float(re.search(r"tensor parallelism: ([\d.]+) MB of parameters", open(f"{t}/tp2.log").read()).group(1))
# Expected from the 1-rank export: norms replicated, every other tensor split in two (the vocabulary
# rows padded to a multiple of 64 first, as the model pads them).
split = replicated = 0
with safe_open(f"{t}/one/model/model.safetensors", "pt") as f:
    for k in f.keys():
        x = f.get_tensor(k)
        n = x.numel() * x.element_size()
        if "norm" in k:
            replicated += n
        else:
            if "embed_tokens" in k or "lm_head" in k:
                n = n // x.shape[0] * (-(-x.shape[0] // 64) * 64)
            split += n
want = (split / 2 + replicated) / 1e6
print(f"tp 2: {mb:.3f} MB of parameters per rank; expected {want:.3f} (whole model {(split + replicated) / 1e6:.3f} MB)")
assert abs(mb - want) <= 0.02 * want, (mb, want)
PY

# Checkpoints hold whole tensors: resume on other layouts (step 4 -> 8).
as_of_step4() { cp -r "$tmp/$1" "$tmp/$2"; rm -rf "$tmp/$2/checkpoints/step-00000008" "$tmp/$2/model"; }
as_of_step4 dp2tp2 re1
as_of_step4 dp2tp2 re2
as_of_step4 one re4
train re1 1 $qs/recipe.yaml "${long[@]}"
train re2 2 $qs/recipe.yaml "${long[@]}" --set parallel.tensor_parallel=2
train re4 4 $qs/recipe.yaml "${long[@]}" --set parallel.tensor_parallel=2
for r in re1 re2 re4; do
  grep -q "resumed from .*step-00000004 at step 4" "$tmp/$r.log" || { cat "$tmp/$r.log"; fail "$r did not resume"; }
done
same 1e-6 dp2tp2 re1 re2
same 1e-6 one re4

# fsdp ZeRO-1 / ZeRO-2 on the data-parallel axis of the 2 x 2 mesh: the same curve, optimizer state
# (and ZeRO-2's gradients) per rank halved again; its checkpoint (optimizer pieces per tensor-parallel
# slice) resumes on tp 2 with another data-parallel size, and is refused on another tp.
z=(--set parallel.strategy=fsdp)
train z1dp2tp2 4 $qs/recipe.yaml "${long[@]}" --set parallel.tensor_parallel=2 "${z[@]}" --set parallel.zero_stage=1
train z2dp2tp2 4 $qs/recipe.yaml "${long[@]}" --set parallel.tensor_parallel=2 "${z[@]}" --set parallel.zero_stage=2
same 1e-4 one z1dp2tp2 z2dp2tp2
"$PT_PYTHON" - "$tmp" <<'PY'
import re, sys
t = sys.argv[1]
def mb(run):
    m = re.search(r"over 2 rank\(s\) \(mpi\): parameters ([\d.]+) MB, gradients ([\d.]+) MB, optimizer state ([\d.]+) MB", open(f"{t}/{run}.log").read())
    return tuple(float(x) for x in m.groups())
ddp, z1, z2 = mb("dp2tp2"), mb("z1dp2tp2"), mb("z2dp2tp2")
print(f"per rank on the 2 x 2 mesh (MB, parameters / gradients / optimizer): ddp {ddp}, ZeRO-1 {z1}, ZeRO-2 {z2}")
assert abs(z1[2] - ddp[2] / 2) <= 0.02 * ddp[2] and abs(z2[2] - ddp[2] / 2) <= 0.02 * ddp[2], (ddp, z1, z2)
assert abs(z2[1] - ddp[1] / 2) <= 0.02 * ddp[1], (ddp, z2)
PY
[ -d "$tmp/z2dp2tp2/checkpoints/step-00000004/optimizer/tp-00001-of-00002" ] || fail "no per-slice optimizer pieces"
# A tp 2 fsdp checkpoint (step 4 of RUN) resumes on tp 2 x dp 1 with zero_stage STAGE and continues the
# curve, and is refused on tp 1 with MESSAGE.
fsdp_resumes() {  # RUN STAGE MESSAGE
  local run=$1 stage=$2 msg=$3
  as_of_step4 "$run" "re-$run"
  train "re-$run" 2 $qs/recipe.yaml "${long[@]}" --set parallel.tensor_parallel=2 "${z[@]}" --set parallel.zero_stage="$stage"
  grep -q "resumed from .*step-00000004 at step 4" "$tmp/re-$run.log" || { cat "$tmp/re-$run.log"; fail "re-$run did not resume"; }
  same 1e-6 "$run" "re-$run"
  as_of_step4 "$run" "tp1-$run"
  if mpi 2 "$POSTTRAIN" run $qs/recipe.yaml "${common[@]}" "${long[@]}" --set run.name="tp1-$run" "${z[@]}" \
       --set parallel.zero_stage="$stage" > "$tmp/tp1-$run.log" 2>&1; then
    fail "the tp 2 checkpoint of $run resumed without tensor parallelism"
  fi
  grep -q -- "$msg" "$tmp/tp1-$run.log" || { cat "$tmp/tp1-$run.log"; fail "no tp message for $run"; }
  echo "tp 2 checkpoint of $run on tp 1: refused ($(grep -o -- "$msg" "$tmp/tp1-$run.log" | head -1))"
}
fsdp_resumes z2dp2tp2 1 "saved with parallel.tensor_parallel = 2; this run has 1"

# fsdp ZeRO-3 on the mesh's data-parallel axis (2-D FSDP x TP): each rank reads only its share of its
# tensor-parallel slice from the files; the layers are gathered over the data-parallel axis as they
# run. The same curve; parameters per rank a quarter of one rank's; the checkpoint keeps each slice's
# shards apart (model_shards/tp-R-of-T/), resumes on another data-parallel size, is refused on another
# tp, and `posttrain export` reassembles it into the model the run exported (one layer at a time).
train z3dp2tp2 4 $qs/recipe.yaml "${long[@]}" --set parallel.tensor_parallel=2 "${z[@]}" --set parallel.zero_stage=3
same 1e-4 one z3dp2tp2
grep -q "ZeRO-3: each rank read only its own slices" "$tmp/z3dp2tp2.log" || fail "ZeRO-3 on the mesh did not load sharded"
[ -d "$tmp/z3dp2tp2/checkpoints/step-00000004/model_shards/tp-00001-of-00002" ] || fail "no per-slice model shards"
fsdp_resumes z3dp2tp2 3 "model shards were saved with parallel.tensor_parallel = 2; this run has 1"
"$POSTTRAIN" export "$tmp/z3dp2tp2/checkpoints/step-00000008" "$tmp/z3export" > "$tmp/z3export.log" 2>&1 \
  || { cat "$tmp/z3export.log"; fail "export of the ZeRO-3 x tp checkpoint"; }
grep -q "(2 tensor-parallel slices)" "$tmp/z3export.log" || { cat "$tmp/z3export.log"; fail "export did not read 2 slices"; }
"$PT_PYTHON" - "$tmp" <<'PY'
import glob, re, sys, torch, transformers as tf
from safetensors.torch import load_file
t = sys.argv[1]
def w(d):
    out = {}
    for f in glob.glob(f"{d}/*.safetensors"):
        out.update(load_file(f))
    return out
a, b = w(f"{t}/z3dp2tp2/model"), w(f"{t}/z3export")
assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), "export of the checkpoint != the run's export"
ids = torch.randint(3, 300, (2, 48), generator=torch.Generator().manual_seed(0))
def logits(d):
    with torch.no_grad():
        return tf.AutoModelForCausalLM.from_pretrained(d, torch_dtype=torch.float32)(ids).logits
ref = logits(f"{t}/one/model")
d = (logits(f"{t}/z3export") - ref).abs().max().item()
assert d < 1e-3 * ref.abs().max().item(), d
def mb(run, what):
    m = re.search(what + r" over 2 rank\(s\) \(mpi\): parameters ([\d.]+) MB, gradients ([\d.]+) MB, optimizer state ([\d.]+) MB", open(f"{t}/{run}.log").read())
    return tuple(float(x) for x in m.groups())
ddp, z3 = mb("dp2tp2", "ddp"), mb("z3dp2tp2", "fsdp zero-3")
assert all(abs(z - d / 2) <= 0.02 * d for z, d in zip(z3, ddp)), (ddp, z3)
print(f"ZeRO-3 on the 2 x 2 mesh: {len(a)} tensors of `posttrain export` equal to the run's export; transformers' logits "
      f"within {d:.1e} of the 1-rank model's; per rank (MB, parameters / gradients / optimizer): ddp {ddp}, ZeRO-3 {z3}")
PY

# Other architectures and tp 4.
"$PT_PYTHON" tests/reference/make_moe.py "$tmp/moe" 1 2> /dev/null
"$PT_PYTHON" tests/reference/make_gemma3.py "$tmp/g3" 2> /dev/null
for m in moe g3; do
  at=(--set model.path="$tmp/$m" --set tokenizer.path="$tmp/$m")
  train $m-1 1 $qs/recipe.yaml "${short[@]}" "${at[@]}"
  train $m-tp2 2 $qs/recipe.yaml "${short[@]}" "${at[@]}" --set parallel.tensor_parallel=2
  train $m-z3dp2tp2 4 $qs/recipe.yaml "${short[@]}" "${at[@]}" --set parallel.tensor_parallel=2 "${z[@]}" --set parallel.zero_stage=3
  same 0 $m-1 $m-tp2 $m-z3dp2tp2
done
# Activation checkpointing recomputes each block (and its collectives) in the backward pass.
train g3-tp2-ac 2 $qs/recipe.yaml "${short[@]}" --set model.path="$tmp/g3" --set tokenizer.path="$tmp/g3" \
  --set parallel.tensor_parallel=2 --set model.activation_checkpointing=true
same 0 g3-1 g3-tp2-ac
init='model.init={architecture: Qwen3ForCausalLM, vocab_size: 300, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 4, head_dim: 16}'
train q3-1 1 $qs/recipe.yaml "${short[@]}" --set model.path= --set "$init"
train q3-tp4 4 $qs/recipe.yaml "${short[@]}" --set model.path= --set "$init" --set parallel.tensor_parallel=4
same 0 q3-1 q3-tp4

# DPO: policy and frozen reference both split, on the 2 x 2 mesh.
dpo=(--set model.path="$PWD/$qs/model" --set tokenizer.path="$PWD/$qs/tokenizer" --set algorithm.dpo.reference=model)
train dpo-1 1 examples/dpo/recipe.yaml "${short[@]}" "${dpo[@]}"
train dpo-dp2tp2 4 examples/dpo/recipe.yaml "${short[@]}" "${dpo[@]}" --set parallel.tensor_parallel=2
same 0 dpo-1 dpo-dp2tp2

# GRPO: rollouts generated by the split model (KV cache of each rank's heads, logits gathered for
# sampling), rewards, the policy-gradient loss; evaluation with greedy generation on the 2 x 2 mesh.
"$POSTTRAIN" run $qs/recipe.yaml --set run.output_dir="$tmp" --set run.name=base --set trainer.max_steps=80 \
  --set trainer.eval.every=0 --set trainer.eval.at_start=false --set trainer.eval.at_end=false \
  --set checkpoint.save_final=false > "$tmp/base.log" 2>&1 || { cat "$tmp/base.log"; fail "SFT base"; }
grpo=(--set model.path="$tmp/base/model" --set trainer.max_steps=4 --set trainer.eval.every=2 --set checkpoint.every=0
      --set checkpoint.save_final=false)
train grpo-1 1 examples/grpo/recipe.yaml "${grpo[@]}"
train grpo-tp2 2 examples/grpo/recipe.yaml "${grpo[@]}" --set parallel.tensor_parallel=2
"$PT_PYTHON" - "$tmp" <<'PY'
import json, sys
t = sys.argv[1]
def rows(r):
    return [json.loads(l) for l in open(f"{t}/{r}/metrics.jsonl")]
a, b = rows("grpo-1"), rows("grpo-tp2")
for key in ("rewards/exact_match", "eval/rewards/exact_match"):
    x, y = [r[key] for r in a if key in r], [r[key] for r in b if key in r]
    assert x and x == y, (key, x, y)
la, lb = [r["loss"] for r in a if "loss" in r], [r["loss"] for r in b if "loss" in r]
d = max(abs(p - q) for p, q in zip(la, lb))
assert len(la) == len(lb) == 4 and d < 1e-6, (la, lb)
print(f"grpo tp 2 vs 1 rank: identical sampled and greedy rewards {[r['rewards/exact_match'] for r in b if 'rewards/exact_match' in r]}, "
      f"losses within {d:.1e} (absolute; |loss| ~ {max(abs(v) for v in la):.3f})")
PY
# Multi-turn episodes at tp 2: a built-in environment (guess_number) and an external one (the
# recommender's simulated user, one process per rank) give the same episodes, rewards and turns.
game=(--set algorithm.grpo.environment.name=guess_number --set algorithm.grpo.environment.low=1
      --set algorithm.grpo.environment.high=9 --set algorithm.grpo.environment.max_turns=3
      --set algorithm.grpo.environment.max_episode_tokens=200 --set "algorithm.grpo.rewards=[]"
      --set algorithm.grpo.max_new_tokens=6 --set trainer.global_batch_tokens=256 --set trainer.micro_batch_tokens=256)
train game-1 1 examples/grpo/recipe.yaml "${grpo[@]}" "${game[@]}"
train game-tp2 2 examples/grpo/recipe.yaml "${grpo[@]}" "${game[@]}" --set parallel.tensor_parallel=2
train rec-1 1 examples/recommender/recipe.yaml "${grpo[@]}"
train rec-tp2 2 examples/recommender/recipe.yaml "${grpo[@]}" --set parallel.tensor_parallel=2
"$PT_PYTHON" - "$tmp" <<'PY'
import json, sys
t = sys.argv[1]
def rows(r):
    return [json.loads(l) for l in open(f"{t}/{r}/metrics.jsonl")]
for one, two in (("game-1", "game-tp2"), ("rec-1", "rec-tp2")):
    a, b = rows(one), rows(two)
    for key in ("reward", "episode/turns", "episode/length", "eval/reward", "eval/episode/turns"):
        x, y = [r[key] for r in a if key in r], [r[key] for r in b if key in r]
        assert x and x == y, (one, key, x, y)
    print(f"{two}: the same episodes as one rank (rewards {[round(r['reward'], 4) for r in b if 'reward' in r]}, "
          f"turns {[round(r['episode/turns'], 3) for r in b if 'episode/turns' in r]})")
PY
# Distillation: student and teacher both split by vocabulary rows; the divergence's normalizers and
# top-k candidates combined over the group (forward KL, and JSD restricted to the teacher's top 8).
dst=(--set algorithm.distill.teacher="$tmp/base/model")
train dst-1 1 examples/distill/recipe.yaml "${short[@]}" "${dst[@]}"
train dst-tp2 2 examples/distill/recipe.yaml "${short[@]}" "${dst[@]}" --set parallel.tensor_parallel=2
jsd=(--set algorithm.distill.loss=jsd --set algorithm.distill.beta=0.3 --set algorithm.distill.top_k=8
     --set algorithm.distill.temperature=2)
train jsd-1 1 examples/distill/recipe.yaml "${short[@]}" "${dst[@]}" "${jsd[@]}"
train jsd-dp2tp2 4 examples/distill/recipe.yaml "${short[@]}" "${dst[@]}" "${jsd[@]}" --set parallel.tensor_parallel=2
same 0 dst-1 dst-tp2
same 0 jsd-1 jsd-dp2tp2
gen=(--set trainer.eval.generate=true --set trainer.max_steps=100 --set trainer.eval.every=50 --set checkpoint.every=0
     --set checkpoint.save_final=false --set schedule.warmup_steps=10 --set logging.every=10)
train gen-1 1 $qs/recipe.yaml "${gen[@]}"
train gen-dp2tp2 4 $qs/recipe.yaml "${gen[@]}" --set parallel.tensor_parallel=2
"$PT_PYTHON" - "$tmp" <<'PY'
import json, sys
t = sys.argv[1]
acc = lambda r: [json.loads(l)["eval/accuracy"] for l in open(f"{t}/{r}/metrics.jsonl") if '"eval/accuracy"' in l]
a, b = acc("gen-1"), acc("gen-dp2tp2")
# Greedy answers from logits equal to ~1e-6: the same unless two tokens nearly tie (one answer of 200 = 0.005).
assert len(a) == len(b) == 3 and a[-1] > 0.5 and max(abs(x - y) for x, y in zip(a, b)) <= 0.01, (a, b)
print(f"evaluation with greedy generation, 2 x 2 mesh vs 1 rank: exact match {b} vs {a}")
PY

# LoRA: column-parallel B split by rows, row-parallel A by columns, the embedding's A by vocabulary
# columns; dropout draws whole-row masks, so tp 2 equals one rank (and the 2 x 2 mesh ddp); the adapters
# (and the merged export) are saved whole, and a tp 2 LoRA checkpoint resumes on one rank.
lora=(--set 'model.lora={rank: 4, alpha: 8, dropout: 0.1, merge_on_export: true, target_modules: [q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, embed_tokens]}'
      --set optimizer.lr=2e-3)
train lora-1 1 $qs/recipe.yaml "${long[@]}" "${lora[@]}"
train lora-tp2 2 $qs/recipe.yaml "${long[@]}" "${lora[@]}" --set parallel.tensor_parallel=2
train lora-dp2tp2 4 $qs/recipe.yaml "${long[@]}" "${lora[@]}" --set parallel.tensor_parallel=2
# Data-parallel ranks draw the same dropout stream for different micro-batches (one rank draws them in
# sequence): the mesh equals plain ddp over 2 ranks instead.
train lora-dp2 2 $qs/recipe.yaml "${long[@]}" "${lora[@]}"
same 1e-4 lora-1 lora-tp2
# ... and with the adapters sharded by ZeRO-3 over the data-parallel axis.
train lora-z3dp2tp2 4 $qs/recipe.yaml "${long[@]}" "${lora[@]}" --set parallel.tensor_parallel=2 "${z[@]}" --set parallel.zero_stage=3
same 1e-4 lora-dp2 lora-dp2tp2 lora-z3dp2tp2
as_of_step4 lora-tp2 relora1
train relora1 1 $qs/recipe.yaml "${long[@]}" "${lora[@]}"
grep -q "resumed from .*step-00000004 at step 4" "$tmp/relora1.log" || { cat "$tmp/relora1.log"; fail "relora1 did not resume"; }
same 1e-6 lora-tp2 relora1
"$PT_PYTHON" - "$tmp" <<'PY'
import sys
from safetensors.numpy import load_file
t = sys.argv[1]
ad = {r: load_file(f"{t}/{r}/model/adapter_model.safetensors") for r in ("lora-1", "lora-tp2")}
assert ad["lora-1"].keys() == ad["lora-tp2"].keys() and all(ad["lora-1"][k].shape == ad["lora-tp2"][k].shape for k in ad["lora-1"])
m = {r: load_file(f"{t}/{r}/model/merged/model.safetensors") for r in ("lora-1", "lora-tp2")}
d = max(float(abs(m["lora-1"][k] - m["lora-tp2"][k]).max()) for k in m["lora-1"])
assert d < 1e-4, d
print(f"LoRA tp 2: {len(ad['lora-1'])} adapter tensors of the unsplit shapes; merged export within {d:.1e} of 1 rank's")
PY
# An untied LM head (Qwen3-MoE) with its LoRA B split by vocabulary rows.
mo=(--set model.path="$tmp/moe" --set tokenizer.path="$tmp/moe"
    --set 'model.lora={rank: 4, alpha: 8, target_modules: [q_proj, k_proj, v_proj, o_proj, lm_head]}' --set optimizer.lr=2e-3)
train moe-lora-1 1 $qs/recipe.yaml "${short[@]}" "${mo[@]}"
train moe-lora-tp2 2 $qs/recipe.yaml "${short[@]}" "${mo[@]}" --set parallel.tensor_parallel=2
same 0 moe-lora-1 moe-lora-tp2
# Gemma 3: the embedding's LoRA delta scaled like its rows, inside the vocabulary-parallel lookup.
g3l=(--set model.path="$tmp/g3" --set tokenizer.path="$tmp/g3" --set optimizer.lr=2e-3
     --set 'model.lora={rank: 4, alpha: 8, target_modules: [q_proj, o_proj, up_proj, down_proj, embed_tokens]}')
train g3-lora-1 1 $qs/recipe.yaml "${short[@]}" "${g3l[@]}"
train g3-lora-tp2 2 $qs/recipe.yaml "${short[@]}" "${g3l[@]}" --set parallel.tensor_parallel=2
same 0 g3-lora-1 g3-lora-tp2

# Classification heads read the replicated hidden states (the embedding stays vocabulary-parallel): a new
# sequence-classification head, a token-classification head and a projection onto 1,000 ids beyond the
# vocabulary train at tp 2 as on one rank, and the classifier exports whole (score head included).
"$PT_PYTHON" - "$tmp" <<'PY'
import json, random, sys
rng = random.Random(1)
with open(f"{sys.argv[1]}/has7.jsonl", "w") as f:
    for _ in range(600):
        s = "".join(rng.choice("0123456789") for _ in range(rng.randint(3, 6)))
        f.write(json.dumps({"text": f"Digits: {s}", "label": int("7" in s)}) + "\n")
with open(f"{sys.argv[1]}/tags.jsonl", "w") as f:
    for _ in range(600):
        ids = [rng.randrange(3, 300) for _ in range(rng.randint(6, 24))]
        f.write(json.dumps({"ids": ids, "labels": [-100] + [p % 3 for p in ids[:-1]]}) + "\n")
with open(f"{sys.argv[1]}/proj.jsonl", "w") as f:
    for _ in range(600):
        ids = [rng.randrange(3, 60) for _ in range(rng.randint(6, 24))]
        f.write(json.dumps({"ids": ids, "labels": [-100] + [(p * 37 + 11) % 1000 for p in ids[:-1]]}) + "\n")
PY
cls=(--set algorithm.name=classify --set data.seq_len=64)
for h in "seq|has7|classification|{type: sequence_classification, num_labels: 2}" \
         "tok|tags|token_classification|{type: token_classification, num_labels: 3}" \
         "proj|proj|token_classification|{type: projection, num_labels: 1000}"; do
  IFS='|' read -r name file format head <<< "$h"
  src=(--set "data.sources=[{name: $name, path: $tmp/$file.jsonl, format: $format}]" --set "model.head=$head")
  train cls-$name-1 1 $qs/recipe.yaml "${short[@]}" "${cls[@]}" "${src[@]}"
  train cls-$name-tp2 2 $qs/recipe.yaml "${short[@]}" "${cls[@]}" "${src[@]}" --set parallel.tensor_parallel=2
done
# Gradient norms within 1e-4: a new head's elements all start with near-zero moments, and AdamW's first
# steps move each by about lr whatever the rounding of its gradient, so the rounding of the row-parallel
# sums shows up in the next steps' gradients (step 1 agrees to ~1e-7; the losses stay within 1e-5).
GRAD_TOL=1e-4 same 1e-4 cls-seq-1 cls-seq-tp2
GRAD_TOL=1e-4 same 0 cls-tok-1 cls-tok-tp2
GRAD_TOL=1e-4 same 0 cls-proj-1 cls-proj-tp2
grep -q '"Qwen2ForSequenceClassification"' "$tmp/cls-seq-tp2/model/config.json" || fail "the tp 2 classifier was not saved as Qwen2ForSequenceClassification"

# Refusals.
refused() {  # NAME RANKS MESSAGE ARGS...
  local name=$1 n=$2 msg=$3; shift 3
  if [ "$n" = 1 ]; then cmd=("$POSTTRAIN"); else cmd=(mpirun --allow-run-as-root --oversubscribe -np "$n" "$POSTTRAIN"); fi
  if "${cmd[@]}" run $qs/recipe.yaml "${common[@]}" "${short[@]}" --set run.name="$name" "$@" > "$tmp/$name.log" 2>&1; then
    fail "$name was accepted"
  fi
  grep -q -- "$msg" "$tmp/$name.log" || { cat "$tmp/$name.log"; fail "$name: no message '$msg'"; }
  echo "refused ($name): $(grep -o -- "$msg.*" "$tmp/$name.log" | head -1 | cut -c1-150)"
}
refused kvheads 4 "num_key_value_heads = 2, which does not divide by 4" --set parallel.tensor_parallel=4
refused ranks 3 "parallel.tensor_parallel = 2 does not divide the 3 rank(s)" --set parallel.tensor_parallel=2
refused single 1 "needs an MPI launch with a multiple of 2 ranks" --set parallel.tensor_parallel=2
refused pad 2 "set model.vocab_pad_multiple to a multiple of 2" --set parallel.tensor_parallel=2 --set model.vocab_pad_multiple=1 \
  --set model.path= --set "${init/vocab_size: 300/vocab_size: 301}"
echo "tensor parallelism: all checks passed"
