#!/usr/bin/env bash
# The trainer end to end on the quickstart fixtures (CPU):
#  - exact resume: 8 steps straight == 6 steps killed by SIGKILL inside step 6 + resume to 8
#    (per-step losses bit for bit, final weights byte for byte)
#  - a finished run started again keeps its final checkpoint untouched
#  - a truncated newest checkpoint is skipped with a warning; resuming from the older one still
#    reproduces the straight run
#  - a recipe change that breaks exactness is refused with the diff (--force overrides)
#  - SIGTERM -> checkpoint + exit 75, then resume to the end
#  - a checkpoint save that fails (file size limit = disk full) keeps the previous checkpoint
#  - the saved HF model loads in transformers with the same logits as ours
#  - metrics.jsonl, TensorBoard events and `posttrain plot`
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_PYTHON:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
recipe=examples/quickstart/recipe.yaml
common=(--set run.output_dir="$tmp" --set trainer.max_steps=8 --set checkpoint.every=2 --set checkpoint.keep_last=2
        --set trainer.eval.every=0 --set trainer.eval.generate=false --set trainer.eval.max_new_tokens=64 --set logging.every=1 --set schedule.warmup_steps=2)
losses() { "$PT_PYTHON" -c 'import json,sys; print(" ".join(repr(json.loads(l)["loss"]) for l in open(sys.argv[1]) if "loss" in json.loads(l)))' "$1"; }
fail() { echo "FAIL: $*"; exit 1; }
# Waits until RUN_DIR/metrics.jsonl has N lines (the run is training).
wait_lines() {
  for _ in $(seq 1 300); do
    [ -f "$1/metrics.jsonl" ] && [ "$(wc -l < "$1/metrics.jsonl")" -ge "$2" ] && return 0
    sleep 0.1
  done
}

"$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=straight > "$tmp/straight.log" 2>&1 || { cat "$tmp/straight.log"; fail "straight run"; }

# SIGKILL in the middle of step 6 (after its backward pass, before the optimizer update).
set +e
POSTTRAIN_FAULT=kill_in_step:6 "$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=killed > "$tmp/killed.log" 2>&1
rc=$?
set -e
[ "$rc" -eq 137 ] || { cat "$tmp/killed.log"; fail "expected SIGKILL (137), got $rc"; }
ls "$tmp/killed/checkpoints" | grep -q step-00000004 || fail "no checkpoint at step 4 before the kill"
"$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=killed > "$tmp/resumed.log" 2>&1 || { cat "$tmp/resumed.log"; fail "resume"; }
grep -q "resumed from .*step-00000004 at step 4" "$tmp/resumed.log" || fail "did not resume from step 4"
a="$(losses "$tmp/straight/metrics.jsonl")"; b="$(losses "$tmp/killed/metrics.jsonl")"
[ "$(echo "$a" | wc -w)" -eq 8 ] || fail "expected 8 losses, got: $a"
[ "$a" = "$b" ] || fail "per-step losses differ after resume:\n$a\n$b"
cmp "$tmp/straight/model/model.safetensors" "$tmp/killed/model/model.safetensors" || fail "final weights differ"
echo "exact resume: 8 losses identical, final weights identical"
echo "losses: $a"

# A finished run started again keeps its final checkpoint as it was (no re-save of the same step) and
# swaps in an identical HF export.
cp "$tmp/straight/checkpoints/step-00000008/DONE" "$tmp/done-before"
cp "$tmp/straight/model/model.safetensors" "$tmp/model-before"
"$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=straight > "$tmp/again.log" 2>&1 || { cat "$tmp/again.log"; fail "re-run of a finished run"; }
grep -q "the run had finished; kept as it was" "$tmp/again.log" || { cat "$tmp/again.log"; fail "the finished run's checkpoint was saved again"; }
cmp "$tmp/done-before" "$tmp/straight/checkpoints/step-00000008/DONE" || fail "final checkpoint changed"
cmp "$tmp/model-before" "$tmp/straight/model/model.safetensors" || fail "re-exported model differs"
[ ! -e "$tmp/straight/.model.tmp" ] || fail "the export's staging directory was left behind"
echo "finished run started again: final checkpoint kept, model re-exported identically"

# Accumulation: 8 micro-batches of one row vs 1 micro-batch of 8 rows give the same losses (the
# loss is normalized by the step's trained tokens, not averaged per micro-batch).
"$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=onemb --set trainer.micro_batch_tokens=2048 > "$tmp/onemb.log" 2>&1 || { cat "$tmp/onemb.log"; fail "one micro-batch run"; }
"$PT_PYTHON" - "$tmp/straight/metrics.jsonl" "$tmp/onemb/metrics.jsonl" <<'PY'
import json, sys
a, b = ([json.loads(l)["loss"] for l in open(f) if '"loss"' in l] for f in sys.argv[1:3])
worst = max(abs(x - y) / abs(x) for x, y in zip(a, b))
assert len(a) == len(b) == 8 and worst < 1e-4, (a, b)
print(f"accumulation: 8 x 1 row vs 1 x 8 rows, max relative loss difference over 8 steps {worst:.1e}")
PY

# The same with LoRA (adapters only trainable, dropout drawing from the saved RNG).
lora=(--set 'model.lora={rank: 8, alpha: 16, dropout: 0.1, target_modules: [q_proj, v_proj, up_proj]}' --set checkpoint.every=2)
"$POSTTRAIN" run "$recipe" "${common[@]}" "${lora[@]}" --set run.name=lora_a > "$tmp/lora_a.log" 2>&1 || { cat "$tmp/lora_a.log"; fail "LoRA run"; }
set +e
POSTTRAIN_FAULT=kill_in_step:5 "$POSTTRAIN" run "$recipe" "${common[@]}" "${lora[@]}" --set run.name=lora_b > "$tmp/lora_killed.log" 2>&1
rc=$?
set -e
[ "$rc" -eq 137 ] || { cat "$tmp/lora_killed.log"; fail "LoRA: expected SIGKILL (137) in step 5, got $rc"; }
"$POSTTRAIN" run "$recipe" "${common[@]}" "${lora[@]}" --set run.name=lora_b > "$tmp/lora_b.log" 2>&1 || { cat "$tmp/lora_b.log"; fail "LoRA resume"; }
grep -q "resumed from .*step-00000004 at step 4" "$tmp/lora_b.log" || { cat "$tmp/lora_b.log"; fail "LoRA run did not resume from step 4"; }
[ "$(losses "$tmp/lora_a/metrics.jsonl" | wc -w)" -eq 8 ] || fail "LoRA: expected 8 losses"
[ "$(losses "$tmp/lora_a/metrics.jsonl")" = "$(losses "$tmp/lora_b/metrics.jsonl")" ] || fail "LoRA losses differ after resume"
cmp "$tmp/lora_a/model/adapter_model.safetensors" "$tmp/lora_b/model/adapter_model.safetensors" || fail "LoRA adapters differ"
[ -f "$tmp/lora_a/checkpoints/step-00000008/trainable.safetensors" ] || fail "LoRA checkpoint lacks trainable.safetensors"
echo "LoRA exact resume: losses and PEFT adapter identical"

# A truncated newest checkpoint is skipped; the older one resumes to the same result.
cp -r "$tmp/straight" "$tmp/trunc"
f="$tmp/trunc/checkpoints/step-00000008/model/model.safetensors"
head -c 1000 "$f" > "$f.x" && mv "$f.x" "$f"
"$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=trunc > "$tmp/trunc.log" 2>&1 || { cat "$tmp/trunc.log"; fail "resume past a truncated checkpoint"; }
grep -q "skipping checkpoint .*step-00000008: file model/model.safetensors has 1000 bytes" "$tmp/trunc.log" || { cat "$tmp/trunc.log"; fail "no warning for the truncated checkpoint"; }
grep -q "resumed from .*step-00000006" "$tmp/trunc.log" || fail "did not fall back to step 6"
cmp "$tmp/straight/model/model.safetensors" "$tmp/trunc/model/model.safetensors" || fail "weights after fallback resume differ"
echo "truncated checkpoint skipped; fallback resume reproduces the run"

# A recipe change that breaks exactness is refused, with the diff; --force overrides.
if "$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=straight --set optimizer.lr=1e-3 > "$tmp/refuse.log" 2>&1; then
  fail "a changed learning rate was accepted on resume"
fi
grep -q "refusing to resume" "$tmp/refuse.log" && grep -q "lr: 0.003 -> 0.001" "$tmp/refuse.log" || { cat "$tmp/refuse.log"; fail "refusal without the diff"; }
"$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=straight --set optimizer.lr=1e-3 --force > "$tmp/force.log" 2>&1 || fail "--force"
echo "recipe change refused, --force accepted"

# SIGTERM: checkpoint at the current step and exit 75; a resume finishes the run.
"$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=term --set trainer.max_steps=150 --set checkpoint.every=0 > "$tmp/term.log" 2>&1 &
pid=$!
wait_lines "$tmp/term" 3
kill -TERM "$pid"
set +e; wait "$pid"; rc=$?; set -e
[ "$rc" -eq 75 ] || { cat "$tmp/term.log"; fail "SIGTERM exit code $rc, expected 75"; }
grep -q "signal 15 received: checkpointing at step" "$tmp/term.log" || fail "no signal checkpoint message"
step="$(ls "$tmp/term/checkpoints" | grep -o '[0-9]*$' | sort -n | tail -1)"
[ -f "$tmp/term/checkpoints/step-$step/DONE" ] || fail "signal checkpoint incomplete"
"$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=term --set trainer.max_steps=150 --set checkpoint.every=0 \
  > "$tmp/term2.log" 2>&1 || { tail "$tmp/term2.log"; fail "resume after SIGTERM"; }
grep -q "trained 150 steps" "$tmp/term2.log" || fail "the resumed run did not finish"
echo "SIGTERM at step $((10#$step)): checkpoint + exit 75, resumed to the end"

# The Slurm script forwards the batch-shell signal (--signal=B:USR1@120) and passes on exit 75.
POSTTRAIN="$POSTTRAIN" bash scripts/slurm/posttrain.sbatch "$recipe" "${common[@]}" --set run.name=slurm \
  --set trainer.max_steps=400 --set checkpoint.every=0 > "$tmp/slurm.log" 2>&1 &
spid=$!
wait_lines "$tmp/slurm" 3
kill -USR1 "$spid"
set +e; wait "$spid"; rc=$?; set -e
[ "$rc" -eq 75 ] || { cat "$tmp/slurm.log"; fail "sbatch script exit $rc, expected 75"; }
grep -q "signal 10 received" "$tmp/slurm.log" || fail "SIGUSR1 not forwarded to posttrain"
echo "Slurm script: SIGUSR1 forwarded, checkpoint + exit 75"

# Disk full while saving: a 1 MB file-size limit makes the model file write fail (EFBIG).
cp -r "$tmp/straight" "$tmp/full"
set +e
( trap '' XFSZ; ulimit -f 1000; exec "$POSTTRAIN" run "$recipe" "${common[@]}" --set run.name=full --set trainer.max_steps=10 --force ) > "$tmp/full.log" 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "a save past the size limit succeeded"
grep -q "saving checkpoint .*step-00000010 failed" "$tmp/full.log" || { cat "$tmp/full.log"; fail "no save-failure message"; }
grep -q "the newest complete checkpoint is intact: .*step-00000008" "$tmp/full.log" || fail "did not report the kept checkpoint"
[ -z "$(ls -A "$tmp/full/checkpoints" | grep '^\.')" ] || fail "temporary checkpoint directory left behind"
[ -f "$tmp/full/checkpoints/step-00000008/DONE" ] || fail "the previous checkpoint was damaged"
echo "failed save: previous checkpoint intact, no temporary left"

# The exported model loads in transformers with our logits.
"$PT_PYTHON" scripts/hf_reference_logits.py "$tmp/straight/model" "$tmp/ref.safetensors" > /dev/null
"$POSTTRAIN" verify-model "$tmp/straight/model" --reference "$tmp/ref.safetensors" | tee "$tmp/verify.txt" | grep -E "max abs|result"
grep -q "result .*PASS" "$tmp/verify.txt" || fail "transformers logits differ from ours on the trained model"

# Metric sinks.
"$PT_PYTHON" - "$tmp/straight" <<'PY'
import glob, json, sys
run = sys.argv[1]
rows = [json.loads(l) for l in open(f"{run}/metrics.jsonl")]
steps = [r["step"] for r in rows if "loss" in r]
assert steps == list(range(1, 9)), steps
last = [r for r in rows if "loss" in r][-1]
for k in ("loss", "lr", "grad_norm", "tokens_per_s", "trained_tokens_per_s", "packing_efficiency", "peak_memory_gb"):
    assert k in last, k
assert any("eval/loss" in r for r in rows), "no eval line"
assert last["data/addition/records"] > 0 and "data/addition/bad" in last, sorted(last)
ev = glob.glob(f"{run}/tensorboard/events.out.tfevents.*")
assert ev, "no TensorBoard event file"
try:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
except ImportError:
    print("tensorboard not installed: event file framing checked by unit tests only")
    sys.exit(0)
acc = EventAccumulator(f"{run}/tensorboard"); acc.Reload()
loss = [e.value for e in acc.Scalars("loss")]
assert len(loss) == 8 and abs(loss[-1] - last["loss"]) < 1e-5 * max(1, abs(loss[-1])), loss
print("TensorBoard reads", len(acc.Tags()["scalars"]), "scalar tags")
PY
if "$POSTTRAIN" help plot > /dev/null 2>&1 || "$POSTTRAIN" plot --help > /dev/null 2>&1; then
  "$POSTTRAIN" plot "$tmp/straight" > "$tmp/plot.txt"
  grep -q "<svg" "$tmp/straight/plot.svg" || fail "plot did not write an SVG"
fi

# A model created from the recipe (model.init) with a tokenizer names the tokenizer's special tokens
# in its export, as a downloaded checkpoint does: transformers' generate then stops at <|im_end|>.
"$POSTTRAIN" run examples/quickstart/recipe.yaml --set run.output_dir="$tmp" --set run.name=created --set model.path= \
  --set 'model.init={vocab_size: 300, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 256}' \
  "${short[@]}" > "$tmp/created.log" 2>&1 || { cat "$tmp/created.log"; fail "SFT of a created model"; }
"$PT_PYTHON" - "$tmp/created/model" <<'PY'
import json, sys, transformers as tf
d = sys.argv[1]
tok = tf.AutoTokenizer.from_pretrained(d)
cfg, gen = json.load(open(f"{d}/config.json")), json.load(open(f"{d}/generation_config.json"))
want = {"eos_token_id": tok.convert_tokens_to_ids("<|im_end|>"), "pad_token_id": tok.pad_token_id}
for k, v in want.items():
    assert v is not None and cfg.get(k) == v and gen.get(k) == v, (k, v, cfg.get(k), gen.get(k))
assert cfg.get("bos_token_id") is None  # the quickstart tokenizer has no BOS token
print("created model: config and generation_config name eos", want["eos_token_id"], "and pad", want["pad_token_id"])
PY
echo "trainer ok"
