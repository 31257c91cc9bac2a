#!/usr/bin/env bash
# Data parallelism on CPU ranks (mpirun, oversubscribed): ddp (bucketed all-reduce from the backward
# pass) and fsdp ZeRO-1 / 2 / 3 on 2 and 4 ranks train the same 8 steps as 1 rank — losses within
# 1e-5 relative, final weights within 1e-5, the fsdp export gives transformers the same logits; LoRA,
# activation checkpointing and evaluation with generation compose with fsdp (ZeRO-3 included);
# per-rank bytes fall as 1/N; 4-rank fsdp checkpoints resume on 2 ranks and on 1 and continue the
# same curve; a ZeRO-3 checkpoint joins into one HF model (posttrain export); a 2-rank run killed in mid-step
# resumes bit for bit; one killed rank ends the job, and a hung rank makes the others give up after
# parallel.timeout_s.
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_PYTHON:?}"
if ! command -v mpirun > /dev/null; then echo "SKIP: no mpirun"; exit 77; fi
"$POSTTRAIN" version | grep -q "mpi *yes" || { echo "SKIP: built without MPI"; exit 77; }
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
recipe=examples/quickstart/recipe.yaml
mpi() { local n=$1; shift; mpirun --allow-run-as-root --oversubscribe -np "$n" "$@"; }
# Small buckets: several per model, so their order across ranks is exercised.
common=(--set run.output_dir="$tmp" --set trainer.max_steps=8 --set checkpoint.every=4 --set checkpoint.keep_last=3
        --set trainer.eval.every=0 --set trainer.eval.generate=false --set trainer.eval.max_new_tokens=64 --set logging.every=1 --set schedule.warmup_steps=2
        --set parallel.bucket_mb=0.25)
fsdp=(--set parallel.strategy=fsdp)
fail() { echo "FAIL: $*"; exit 1; }
losses() { "$PT_PYTHON" -c 'import json,sys; print(" ".join(repr(json.loads(l)["loss"]) for l in open(sys.argv[1]) if "\"loss\"" in l))' "$1"; }
train() {  # NAME RANKS ARGS...
  local name=$1 n=$2; shift 2
  if [ "$n" = 1 ]; then "$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name="$name" "$@" > "$tmp/$name.log" 2>&1
  else mpi "$n" "$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name="$name" "$@" > "$tmp/$name.log" 2>&1; fi \
    || { cat "$tmp/$name.log"; fail "$name"; }
}
same() {  # REFERENCE RUN... : 8 losses within 1e-5 relative and final weights within 1e-5
  "$PT_PYTHON" - "$tmp" "$@" <<'PY'
import glob, json, sys
from safetensors.numpy import load_file
t, ref, runs = sys.argv[1], sys.argv[2], sys.argv[3:]
def steps(r):
    return [json.loads(l)["loss"] for l in open(f"{t}/{r}/metrics.jsonl") if '"loss"' in l]
def weights(r):  # one file, or ZeRO-3's file per layer
    w = {}
    for f in glob.glob(f"{t}/{r}/model/*.safetensors"):
        w.update(load_file(f))
    return w
a, wa = steps(ref), weights(ref)
for r in runs:
    b, wb = steps(r), weights(r)
    rel = max(abs(x - y) / abs(x) for x, y in zip(a, b))
    diff = max(float(abs(wa[k] - wb[k]).max()) for k in wa)
    assert len(a) == len(b) == 8 and rel < 1e-5, (r, a, b)
    assert wa.keys() == wb.keys() and diff < 1e-5, (r, diff)
    print(f"{r} vs {ref}: 8 losses within {rel:.1e} (relative), final weights within {diff:.1e}")
PY
}

train one 1
train ddp2 2
train ddp4 4
grep -q "\[rank 0/4\] trained 8 steps" "$tmp/ddp4.log" || fail "4-rank run did not train 8 steps"
grep -q "ddp over 4 rank(s) (mpi)" "$tmp/ddp4.log" || fail "no ddp line"
train z1n2 2 "${fsdp[@]}" --set parallel.zero_stage=1
train z2n2 2 "${fsdp[@]}" --set parallel.zero_stage=2
train z1n4 4 "${fsdp[@]}" --set parallel.zero_stage=1
train z2n4 4 "${fsdp[@]}" --set parallel.zero_stage=2
train z2n1 1 "${fsdp[@]}" --set parallel.zero_stage=2
train z3n1 1 "${fsdp[@]}" --set parallel.zero_stage=3
train z3n2 2 "${fsdp[@]}" --set parallel.zero_stage=3
train z3n4 4 "${fsdp[@]}" --set parallel.zero_stage=3
same one ddp2 ddp4 z1n2 z2n2 z1n4 z2n4 z2n1 z3n1 z3n2 z3n4

# Per-rank memory of the strategy (parameters / gradients / optimizer state, from the start-up line).
"$PT_PYTHON" - "$tmp" <<'PY'
import re, sys
t = sys.argv[1]
def mb(run):
    m = re.search(r"parameters ([\d.]+) MB, gradients ([\d.]+) MB, optimizer state ([\d.]+) MB", open(f"{t}/{run}.log").read())
    return tuple(float(x) for x in m.groups())
rows = {r: mb(r) for r in ("z2n1", "ddp2", "z1n2", "z2n2", "ddp4", "z1n4", "z2n4", "z3n1", "z3n2", "z3n4")}
for r, (p, g, o) in rows.items():
    print(f"  {r:5s} parameters {p:.2f} MB  gradients {g:.2f} MB  optimizer {o:.2f} MB")
o1 = rows["z2n1"][2]
for r, n in (("z1n2", 2), ("z2n2", 2), ("z1n4", 4), ("z2n4", 4)):
    assert abs(rows[r][2] - o1 / n) <= 0.02 * o1, (r, rows[r], o1)
for r, n in (("z2n2", 2), ("z2n4", 4)):  # ZeRO-2 keeps only the gradient shard between backward passes
    assert abs(rows[r][1] - rows["z2n1"][1] / n) <= 0.02 * rows["z2n1"][1], (r, rows[r])
assert rows["ddp4"][2] == rows["z2n1"][2], rows
# ZeRO-3: parameters at rest 1/N too (decoder layers and the rest alike; padding only rounds up).
for r, n in (("z3n2", 2), ("z3n4", 4)):
    total, one = sum(rows[r]), sum(rows["z3n1"])
    print(f"  ZeRO-3 on {n} ranks: parameters + gradients + optimizer = {total:.3f} MB = {total / one:.3f} of one rank's")
    assert total < one / n * 1.02, (r, rows[r])
print("optimizer state per rank = 1/N of one rank's; ZeRO-2 gradients 1/N; ZeRO-3 parameters + gradients + optimizer 1/N")
PY

# ZeRO-3 exports one file per decoder layer (gathered one at a time) plus the rest, with an index.
[ -f "$tmp/z3n4/model/model.safetensors.index.json" ] && [ -f "$tmp/z3n4/model/model-layer-00001.safetensors" ] \
  || { ls "$tmp/z3n4/model"; fail "ZeRO-3 export is not layer by layer"; }
# The fsdp export is an ordinary HF model: transformers' logits equal the 1-rank model's; posttrain
# export joins the ZeRO-3 step-8 checkpoint (its layers only in per-rank shards) into the same model.
"$POSTTRAIN" export "$tmp/z3n4/checkpoints/step-00000008" "$tmp/joined" > "$tmp/export.log" 2>&1 \
  || { cat "$tmp/export.log"; fail "posttrain export"; }
"$PT_PYTHON" - "$tmp" <<'PY'
import sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
t = sys.argv[1]
ids = torch.tensor([[1, 5, 9, 42, 7, 3, 11, 100, 2, 64]])
logits = lambda d: AutoModelForCausalLM.from_pretrained(d).eval()(ids).logits
with torch.no_grad():
    a = logits(f"{t}/one/model")
    for r in ("z2n4", "z3n4"):
        d = float((a - logits(f"{t}/{r}/model")).abs().max())
        assert d < 1e-4, (r, d)
        print(f"fsdp export ({r}) vs 1-rank export in transformers: logits within {d:.1e}")
    d = float((logits(f"{t}/z3n4/model") - logits(f"{t}/joined")).abs().max())
AutoTokenizer.from_pretrained(f"{t}/joined")
assert d == 0, d
print(f"posttrain export of the ZeRO-3 step-8 checkpoint = the run's final export (logits max diff {d})")
PY

# LoRA, activation checkpointing and evaluation with generation (every 4 steps) under fsdp.
lora=(--set 'model.lora={rank: 4, alpha: 8}' --set model.activation_checkpointing=true --set optimizer.lr=1e-2
      --set trainer.eval.every=4 --set trainer.eval.generate=true)
train lora1 1 "${lora[@]}"
train lora2 2 "${lora[@]}" "${fsdp[@]}" --set parallel.zero_stage=2
train lora3 2 "${lora[@]}" "${fsdp[@]}" --set parallel.zero_stage=3
"$PT_PYTHON" - "$tmp" <<'PY'
import json, sys
t = sys.argv[1]
def read(r):
    rows = [json.loads(l) for l in open(f"{t}/{r}/metrics.jsonl")]
    return [x["loss"] for x in rows if "loss" in x], [x["eval/loss"] for x in rows if "eval/loss" in x]
a, ea = read("lora1")
for r in ("lora2", "lora3"):
    b, eb = read(r)
    rel = max(abs(x - y) / abs(x) for x, y in zip(a + ea, b + eb))
    assert len(a) == len(b) == 8 and len(ea) == len(eb) == 3 and rel < 1e-5 and a[-1] < a[0], (a, b, ea, eb)
    print(f"LoRA + activation checkpointing + eval, {r} (fsdp, 2 ranks) vs 1 rank: 8 losses and 3 eval losses within {rel:.1e}")
# One PEFT adapter per run, whatever the sharding: the same adapter weights.
from safetensors.numpy import load_file
wa = load_file(f"{t}/lora1/model/adapter_model.safetensors")
for r in ("lora2", "lora3"):
    wb = load_file(f"{t}/{r}/model/adapter_model.safetensors")
    d = max(float(abs(wa[k] - wb[k]).max()) for k in wa)
    assert wa.keys() == wb.keys() and d < 1e-5, (r, d)
    print(f"  {r}: PEFT adapter within {d:.1e} of the 1-rank adapter ({len(wa)} tensors)")
PY

# DPO (frozen reference copy) and distillation (a teacher model) under ZeRO-3 on 2 ranks = 1 rank.
algo=(--set run.output_dir="$tmp" --set trainer.max_steps=6 --set trainer.eval.every=0 --set trainer.eval.at_start=false
      --set trainer.eval.at_end=false --set logging.every=1 --set schedule.warmup_steps=1)
for a in dpo distill; do
  extra=(--set model.path=examples/quickstart/model --set tokenizer.path=examples/quickstart/tokenizer)
  [ "$a" = distill ] && extra=(--set algorithm.distill.teacher="$PWD/examples/quickstart/model")
  "$POSTTRAIN" run "examples/$a/recipe.yaml" "${algo[@]}" "${extra[@]}" --set run.name=$a-1 > "$tmp/$a-1.log" 2>&1 \
    || { cat "$tmp/$a-1.log"; fail "$a on 1 rank"; }
  mpi 2 "$POSTTRAIN" run "examples/$a/recipe.yaml" "${algo[@]}" "${extra[@]}" "${fsdp[@]}" --set parallel.zero_stage=3 \
    --set run.name=$a-z3 > "$tmp/$a-z3.log" 2>&1 || { cat "$tmp/$a-z3.log"; fail "$a under ZeRO-3"; }
  "$PT_PYTHON" - "$tmp" "$a" <<'PY'
import json, sys
t, a = sys.argv[1], sys.argv[2]
x, y = ([json.loads(l)["loss"] for l in open(f"{t}/{r}/metrics.jsonl") if '"loss"' in l] for r in (f"{a}-1", f"{a}-z3"))
rel = max(abs(p - q) / abs(p) for p, q in zip(x, y))
assert len(x) == len(y) == 6 and rel < 1e-5, (x, y)
print(f"{a}: ZeRO-3 on 2 ranks vs 1 rank, 6 losses within {rel:.1e}")
PY
done

# 4-rank fsdp checkpoints (step 4) resumed on 2 ranks and on 1 rank: the same curve.
# The run as it stood after step 4's checkpoint (a resume keeps metrics lines up to its step).
as_of_step4() { cp -r "$tmp/$1" "$tmp/$2"; rm -rf "$tmp/$2/checkpoints/step-00000008" "$tmp/$2/model"; }
as_of_step4 z2n4 re2
as_of_step4 z2n4 re1
as_of_step4 z3n4 re3
train re2 2 "${fsdp[@]}" --set parallel.zero_stage=1
train re1 1 "${fsdp[@]}" --set parallel.zero_stage=2
train re3 2 "${fsdp[@]}" --set parallel.zero_stage=3
same z3n4 re3
# ZeRO-3 checkpoints: rank 0's HF files without the decoder layers, every rank's layer shards beside.
ck="$tmp/z3n4/checkpoints/step-00000004"
[ "$(ls "$ck/model_shards" | grep -c '^shard-.*-of-00004.safetensors$')" = 4 ] || fail "ZeRO-3: expected 4 model shards"
"$PT_PYTHON" -c 'import sys; from safetensors import safe_open; k=list(safe_open(sys.argv[1],"np").keys()); assert k and not [x for x in k if ".layers." in x], k' \
  "$ck/model/model.safetensors" || fail "ZeRO-3 checkpoint's model/ holds layer tensors"
grep -q "read only its own slices of the decoder layers from .*step-00000004/model_shards" "$tmp/re3.log" \
  || { cat "$tmp/re3.log"; fail "re3 did not read the layer shards"; }
as_of_step4 z3n4 re3z2
if mpi 2 "$POSTTRAIN" run "$recipe" "${common[@]}" "${fsdp[@]}" --set parallel.zero_stage=2 --set run.name=re3z2 > "$tmp/re3z2.log" 2>&1; then
  fail "a ZeRO-3 checkpoint resumed under ZeRO-2"
fi
grep -q "resume it with parallel.strategy: fsdp and parallel.zero_stage: 3" "$tmp/re3z2.log" || { cat "$tmp/re3z2.log"; fail "no ZeRO-3 resume message"; }
echo "ZeRO-3 checkpoint: 4 layer shards + HF files without layers; read back on 2 ranks; refused under ZeRO-2"
# generate on a raw ZeRO-3 checkpoint (layers only in the shards) names the fix: posttrain export.
echo '{"prompt": "1 2 3"}' > "$tmp/prompts.jsonl"
if "$POSTTRAIN" generate --model "$tmp/z3n4/checkpoints/step-00000008" --input "$tmp/prompts.jsonl" > "$tmp/gen.log" 2>&1; then
  fail "generate read a ZeRO-3 checkpoint without its layers"
fi
grep -q "posttrain export" "$tmp/gen.log" || { cat "$tmp/gen.log"; fail "generate did not point to posttrain export"; }
for r in re2 re1 re3; do
  grep -q "resumed from .*step-00000004 at step 4" "$tmp/$r.log" || { cat "$tmp/$r.log"; fail "$r did not resume from step 4"; }
  grep -q "written by a run of 4 rank(s)" "$tmp/$r.log" || fail "$r: no note on the rank count"
done
same z2n4 re2 re1
rm -rf "$tmp/bad"; cp -r "$tmp/z2n4" "$tmp/bad"; rm -rf "$tmp/bad/checkpoints/step-00000008"
rm "$tmp/bad/checkpoints/step-00000004/optimizer/shard-00002-of-00004.safetensors"
sed -i '/shard-00002/d' "$tmp/bad/checkpoints/step-00000004/DONE"
if mpi 2 "$POSTTRAIN" run "$recipe" "${common[@]}" "${fsdp[@]}" --set parallel.zero_stage=2 --set run.name=bad > "$tmp/bad.log" 2>&1; then
  fail "resumed with an optimizer shard missing"
fi
grep -q "optimizer: 3 of 4 shards present" "$tmp/bad.log" || { cat "$tmp/bad.log"; fail "no missing-shard error"; }
echo "missing optimizer shard refused: $(grep -o "[^ ]*3 of 4 shards present" "$tmp/bad.log" | head -1)"

# SIGKILL inside step 6 (both ranks), resume: bit for bit.
set +e
POSTTRAIN_FAULT=kill_in_step:6 mpi 2 "$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=killed > "$tmp/killed.log" 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "the killed 2-rank run exited 0"
train killed 2
grep -q "resumed from .*step-00000004 at step 4" "$tmp/killed.log" || { cat "$tmp/killed.log"; fail "did not resume from step 4"; }
[ "$(losses "$tmp/ddp2/metrics.jsonl")" = "$(losses "$tmp/killed/metrics.jsonl")" ] || fail "2-rank losses differ after resume"
cmp "$tmp/ddp2/model/model.safetensors" "$tmp/killed/model/model.safetensors" || fail "2-rank weights differ after resume"
echo "2 ranks: SIGKILL in step 6 + resume -> identical losses and weights"

# One rank killed: the job ends non-zero within 60 s. One rank hung: the others abort after the timeout.
for fault in kill hang; do
  start=$(date +%s)
  set +e
  POSTTRAIN_FAULT=${fault}_in_step:3 POSTTRAIN_FAULT_RANK=1 timeout 120 mpirun --allow-run-as-root --oversubscribe -np 2 \
    "$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=$fault --set parallel.timeout_s=5 > "$tmp/$fault.log" 2>&1
  rc=$?
  set -e
  took=$(( $(date +%s) - start ))
  [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$took" -le 60 ] || { cat "$tmp/$fault.log"; fail "rank 1 $fault: rc $rc after $took s"; }
  echo "rank 1 ${fault}ed in step 3: the job exited $rc after ${took}s"
  if [ "$fault" = hang ]; then hang_rc=$rc; fi
done
grep -q "did not complete within 5 s (parallel.timeout_s)" "$tmp/hang.log" || { cat "$tmp/hang.log"; fail "no timeout message"; }
# The README's exit code for a hung rank (kExitCollectiveTimeout), passed on by mpirun.
[ "$hang_rc" -eq 86 ] || { cat "$tmp/hang.log"; fail "rank 1 hung: expected exit 86, got $hang_rc"; }
# The one-node Slurm template with 2 tasks (srun played by mpirun, scontrol by a stub): SIGUSR1 to
# the batch shell reaches both ranks, they checkpoint together and exit 75, the job is requeued, and
# the requeued job resumes from that checkpoint and finishes.
mkdir -p "$tmp/bin"
cat > "$tmp/bin/scontrol" <<'SH'
#!/bin/sh
case "$1" in show) echo localhost ;; requeue) echo "$2" >> "$REQUEUED" ;; esac
SH
cat > "$tmp/bin/srun" <<'SH'
#!/bin/sh
while [ "${1#--}" != "$1" ]; do shift; done  # srun's own options
exec mpirun --allow-run-as-root --oversubscribe -np "$SLURM_NTASKS" "$@"
SH
chmod +x "$tmp/bin/scontrol" "$tmp/bin/srun"
slurm=(env PATH="$tmp/bin:$PATH" REQUEUED="$tmp/requeued" SLURM_NTASKS=2 SLURM_JOB_ID=4242 SLURM_JOB_NODELIST=vm
       POSTTRAIN="$POSTTRAIN" bash scripts/slurm/one-node.sbatch "$recipe" "${common[@]}" --set run.name=slurm
       --set trainer.max_steps=300 --set checkpoint.every=0)
"${slurm[@]}" > "$tmp/slurm1.log" 2>&1 &
spid=$!
for _ in $(seq 1 300); do
  [ -f "$tmp/slurm/metrics.jsonl" ] && [ "$(grep -c '"loss"' "$tmp/slurm/metrics.jsonl")" -ge 3 ] && break
  sleep 0.1
done
kill -USR1 "$spid"
set +e; wait "$spid"; rc=$?; set -e
[ "$rc" -eq 75 ] || { cat "$tmp/slurm1.log"; fail "one-node.sbatch exit $rc, expected 75"; }
[ "$(cat "$tmp/requeued")" = 4242 ] || fail "the job was not requeued"
grep -q "\[rank 1/2\] .*signal 10 received" "$tmp/slurm1.log" || { cat "$tmp/slurm1.log"; fail "SIGUSR1 did not reach rank 1"; }
stopped=$(ls "$tmp/slurm/checkpoints" | grep '^step-' | tail -1)
"${slurm[@]}" > "$tmp/slurm2.log" 2>&1 || { cat "$tmp/slurm2.log"; fail "requeued job"; }
grep -q "resumed from .*$stopped" "$tmp/slurm2.log" || { cat "$tmp/slurm2.log"; fail "requeued job did not resume from $stopped"; }
grep -q "\[rank 0/2\] trained 300 steps" "$tmp/slurm2.log" || fail "requeued job did not finish"
echo "one-node.sbatch, 2 tasks: SIGUSR1 -> $stopped saved by both ranks, exit 75, requeued, resumed, finished"
echo "data parallel ok"
