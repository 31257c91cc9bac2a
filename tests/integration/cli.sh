#!/usr/bin/env bash
# print / diff / --set / list / version through the binary.
set -euo pipefail
: "${POSTTRAIN:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
R=configs/sft/qwen3-0.6b-full.yaml

"$POSTTRAIN" version | grep '^torch     2\.' > /dev/null
"$POSTTRAIN" print "$R" > "$tmp/a.yaml"
grep -q '^  lr: 1e-05' "$tmp/a.yaml"
grep -q 'vocab_pad_multiple: 64' "$tmp/a.yaml"

# --set is applied and type-checked.
"$POSTTRAIN" print "$R" --set optimizer.lr=3e-4 | grep '^  lr: 0.0003' > /dev/null
if "$POSTTRAIN" print "$R" --set optimizer.lr=abc 2>"$tmp/err"; then echo "FAIL: bad --set accepted"; exit 1; fi
grep -q "expected a finite number for 'optimizer.lr'" "$tmp/err"

# The hash is stable and content-based.
h1="$("$POSTTRAIN" print --hash "$R")"; h2="$("$POSTTRAIN" print --hash "$R")"
[ "$h1" = "$h2" ]
[ "$h1" != "$("$POSTTRAIN" print --hash "$R" --set run.seed=1)" ]

# diff: exit 0 when equal, 1 with a grouped report when different.
"$POSTTRAIN" diff "$R" "$R" | grep identical > /dev/null
set +e
"$POSTTRAIN" diff "$R" configs/sft/llama3.2-1b-lora.yaml > "$tmp/diff.txt"; rc=$?
set -e
[ "$rc" -eq 1 ] || { echo "FAIL: diff exit code $rc"; exit 1; }
grep -q '^run:' "$tmp/diff.txt"
grep -q '~ name: qwen3-0.6b-sft -> llama3.2-1b-lora' "$tmp/diff.txt"
grep -q '~ lr: 1e-05 -> 0.0002' "$tmp/diff.txt"
grep -q 'lora.rank: 16' "$tmp/diff.txt"

# A directory holding a resolved recipe.yaml (run or checkpoint dir) diffs like a file.
mkdir -p "$tmp/run"; "$POSTTRAIN" print "$R" > "$tmp/run/recipe.yaml"
"$POSTTRAIN" diff "$tmp/run" "$R" | grep identical > /dev/null

"$POSTTRAIN" list | grep 'architecture:' > /dev/null
if "$POSTTRAIN" list architectur 2>"$tmp/err"; then echo "FAIL: bad kind accepted"; exit 1; fi
grep -q "did you mean 'architecture'" "$tmp/err"
echo "cli ok"

# Parallel settings this run cannot honour are refused, never run as something else.
for kv in "parallel.tensor_parallel=2|needs an MPI launch with a multiple of 2 ranks" "parallel.backend=nccl|backend nccl needs CUDA devices" \
          "parallel.data_parallel=2|the run has 1 rank"; do
  if out="$("$POSTTRAIN" run examples/quickstart/recipe.yaml --set run.output_dir="$tmp" --set parallel.device=cpu \
            --set "${kv%%|*}" 2>&1)"; then
    echo "FAIL: ${kv%%|*} was accepted"; exit 1
  fi
  echo "$out" | grep -q "${kv#*|}" || { echo "FAIL: ${kv%%|*}: $out"; exit 1; }
done
echo "unsupported parallel settings refused"
"$POSTTRAIN" list algorithm | grep "dpo" > /dev/null || { echo "FAIL: list algorithm: no dpo"; exit 1; }
"$POSTTRAIN" list algorithm | grep "distill" > /dev/null || { echo "FAIL: list algorithm: no distill"; exit 1; }

# The quickstart builds only the binary (the test command builds the rest), and its recipe says what
# its data is.
grep -q 'BUILD_TARGETS=posttrain' scripts/quickstart.sh
head -3 examples/quickstart/recipe.yaml | grep -q 'digit-reversal'
! head -3 examples/quickstart/recipe.yaml | grep -qi 'addition'

# validate takes --set like run, and agrees with run --dry-run on a refusal with a location; a missing
# recipe file is an invalid recipe for validate (exit 1) and a recipe error for run (exit 2).
G=examples/grpo/recipe.yaml
set +e
"$POSTTRAIN" validate "$G" --set algorithm.grpo.loss=cispo > "$tmp/v.out" 2> "$tmp/v.err"; rc_v=$?
"$POSTTRAIN" run "$G" --dry-run --set algorithm.grpo.loss=cispo > "$tmp/d.out" 2>&1; rc_d=$?
"$POSTTRAIN" validate "$G" --set optimizer.lr=abc > /dev/null 2> "$tmp/v2.err"; rc_v2=$?
"$POSTTRAIN" validate "$G" "$tmp/missing.yaml" > "$tmp/v3.out" 2> "$tmp/v3.err"; rc_v3=$?
"$POSTTRAIN" run "$tmp/missing.yaml" > "$tmp/r.out" 2>&1; rc_r=$?
set -e
[ "$rc_v" -eq 1 ] && [ "$rc_d" -ne 0 ] || { cat "$tmp/v.err" "$tmp/d.out"; echo "FAIL: validate --set $rc_v, dry-run $rc_d"; exit 1; }
msg="recipe.yaml:35:19 (algorithm.grpo.epsilon_high): loss cispo caps the importance weight"
grep -qF "$msg" "$tmp/v.err" && grep -qF "$msg" "$tmp/d.out" || { cat "$tmp/v.err" "$tmp/d.out"; echo "FAIL: validate and --dry-run disagree"; exit 1; }
[ "$rc_v2" -eq 1 ] && grep -q "expected a finite number for 'optimizer.lr'" "$tmp/v2.err" || { echo "FAIL: validate --set type check"; exit 1; }
[ "$rc_v3" -eq 1 ] && grep -q "^ok .*grpo/recipe.yaml" "$tmp/v3.out" && grep -q "missing.yaml' does not exist" "$tmp/v3.err" ||
  { cat "$tmp/v3.out" "$tmp/v3.err"; echo "FAIL: validate of a missing file"; exit 1; }
[ "$rc_r" -eq 2 ] && grep -q "error: recipe file '.*missing.yaml' does not exist" "$tmp/r.out" || { cat "$tmp/r.out"; echo "FAIL: run of a missing file: exit $rc_r"; exit 1; }
echo "validate --set agrees with run --dry-run; a missing recipe: validate 1, run 2"

# Keys that would be accepted and ignored in these combinations are refused, with the key's location.
Q=examples/quickstart/recipe.yaml
for case in "schedule.name=constant|schedule.min_lr_ratio|does not decay" \
            "data.packing=false --set data.pack_window=32|data.pack_window|data.packing is false" \
            "data.max_bad_records=5|data.max_bad_records|on_bad_record is error" \
            "model.head.num_labels=3|model.head.num_labels|model.head.type is none" \
            "model.lora.rank=4 --set model.lora.merge_on_export=true --set checkpoint.save_final_hf=false|model.lora.merge_on_export|no export"; do
  IFS='|' read -r sets key msg <<< "$case"
  # shellcheck disable=SC2086
  if "$POSTTRAIN" validate "$Q" --set $sets > /dev/null 2> "$tmp/e"; then echo "FAIL: accepted: $sets"; exit 1; fi
  grep -q "($key): .*$msg" "$tmp/e" || { cat "$tmp/e"; echo "FAIL: refusal of $sets"; exit 1; }
done
echo "ignored-key combinations refused with their location"

# What the run would refuse, refused by validate and --dry-run alike from the recipe alone: RECIPE|SETS (;-separated)|KEY|MESSAGE.
D=examples/dpo/recipe.yaml
E=examples/events/recipe.yaml
for case in "$D|algorithm.dpo.reference=adapters|algorithm.dpo.reference|has no model.lora" \
            "$G|algorithm.grpo.beta=0.1;algorithm.grpo.reference=adapters|algorithm.grpo.reference|has no model.lora" \
            "$G|algorithm.grpo.rewards=[{name: regex}]|algorithm.grpo.rewards\\[0\\]|needs a pattern" \
            "$G|algorithm.grpo.rewards=[{name: regex, pattern: '(unclosed'}]|algorithm.grpo.rewards\\[0\\]|does not compile" \
            "$G|algorithm.grpo.rewards=[{name: command}]|algorithm.grpo.rewards\\[0\\]|needs a command" \
            "$G|algorithm.grpo.rewards=[{name: model}]|algorithm.grpo.rewards\\[0\\]|needs model:" \
            "$G|parallel.strategy=fsdp;parallel.zero_stage=3|parallel.zero_stage|use zero_stage 2" \
            "$G|algorithm.grpo.rollout_ranks=1;parallel.strategy=fsdp;parallel.zero_stage=2|parallel.strategy|receive whole weights" \
            "$Q|parallel.backend=nccl|parallel.backend|needs CUDA devices" \
            "$Q|model.lora.target_modules=[]|model.lora.target_modules|train nothing" \
            "$Q|tokenizer.train_new_tokens_only=true|tokenizer.train_new_tokens_only|nothing is added" \
            "$E|data.seq_len=512|data.seq_len|exceeds model.init.max_position_embeddings" \
            "$E|data.sources=[{name: s, path: ../quickstart/train.jsonl, format: chat}]|data.sources\\[0\\].format|needs a tokenizer" \
            "$Q|data.eval_sources=[{path: train.jsonl, format: chat, weight: 2}]|data.eval_sources\\[0\\].weight|do not apply" \
            "$Q|data.eval_sources=[{path: train.jsonl, format: chat, epochs: 2}]|data.eval_sources\\[0\\].epochs|do not apply"; do
  IFS='|' read -r rec sets key msg <<< "$case"
  IFS=';' read -r -a assigns <<< "$sets"
  args=(); for x in "${assigns[@]}"; do args+=(--set "$x"); done
  args+=(--set "run.output_dir=$tmp/refused")
  for cmd in validate dry-run run; do
    set +e
    case "$cmd" in
      validate) "$POSTTRAIN" validate "$rec" "${args[@]}" > /dev/null 2> "$tmp/e" ;;
      dry-run) "$POSTTRAIN" run "$rec" --dry-run "${args[@]}" > "$tmp/e" 2>&1 ;;
      run) "$POSTTRAIN" run "$rec" "${args[@]}" > "$tmp/e" 2>&1 ;;
    esac
    rc=$?
    set -e
    [ "$rc" -ne 0 ] || { echo "FAIL: $cmd accepted: $sets"; exit 1; }
    grep -q "$key.*$msg" "$tmp/e" || { cat "$tmp/e"; echo "FAIL: $cmd refusal of $sets"; exit 1; }
  done
  [ ! -e "$tmp/refused" ] || { ls -R "$tmp/refused"; echo "FAIL: the refused run of $sets left $tmp/refused behind"; exit 1; }
done
echo "run refusals decided from the recipe: validate, --dry-run and the run refuse them alike with the key's location; nothing written"

# What the files show (the run plan, shared by the run and --dry-run): a tokenizer larger than the
# model with nothing added is refused by both, before anything is written.
big=(--set "tokenizer.path=$PWD/tests/assets/tokenizers/qwen3" --set "run.output_dir=$tmp/plan")
if "$POSTTRAIN" run "$Q" --dry-run "${big[@]}" > "$tmp/d" 2>&1; then cat "$tmp/d"; echo "FAIL: dry-run accepted a tokenizer past the vocabulary"; exit 1; fi
if "$POSTTRAIN" run "$Q" "${big[@]}" > "$tmp/r" 2>&1; then echo "FAIL: run accepted a tokenizer past the vocabulary"; exit 1; fi
for f in d r; do grep -q "ids would index past the embedding" "$tmp/$f" || { cat "$tmp/$f"; echo "FAIL: refusal ($f)"; exit 1; }; done
[ ! -e "$tmp/plan" ] || { echo "FAIL: the refused run wrote $tmp/plan"; exit 1; }
echo "the run plan's refusals: --dry-run and the run agree, nothing written"
