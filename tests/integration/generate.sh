#!/usr/bin/env bash
# `posttrain generate` end to end (CPU): an HF model directory, a run directory, a checkpoint
# directory and a LoRA run all generate; a trained model answers its task; chat and plain prompts;
# several seeded samples per prompt; bad input (malformed line, empty file, over-long prompt) is a
# clear error naming the line, and --truncate-prompts keeps the last tokens instead.
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_PYTHON:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$POSTTRAIN" run examples/quickstart/recipe.yaml --set run.output_dir="$tmp" --set run.name=sft --set trainer.max_steps=100 \
  --set trainer.eval.every=0 --set trainer.eval.at_start=false --set trainer.eval.at_end=false --set checkpoint.every=50 --set checkpoint.keep_last=2 \
  > "$tmp/sft.log" 2>&1 || { cat "$tmp/sft.log"; fail "SFT"; }
"$PT_PYTHON" - "$tmp/prompts.jsonl" <<'PY'
import json, random, sys
rng = random.Random(5)
with open(sys.argv[1], "w") as f:
    for i in range(40):
        s = "".join(rng.choice("0123456789") for _ in range(rng.randint(3, 6)))
        f.write(json.dumps({"id": s[::-1], "messages": [{"role": "user", "content": f"Reverse the digits: {s}"}]}) + "\n")
    f.write(json.dumps({"prompt": "Reverse the digits"}) + "\n")
PY
"$POSTTRAIN" generate --model "$tmp/sft" --input "$tmp/prompts.jsonl" --output "$tmp/run.jsonl" --max-new-tokens 10 --logprobs 3 > "$tmp/gen.log" 2>&1 || { cat "$tmp/gen.log"; fail "generate from a run dir"; }
"$PT_PYTHON" - "$tmp/run.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 41, len(rows)
right = sum(r["completions"][0]["text"] == r["id"] for r in rows if "id" in r)
for r in rows:
    c = r["completions"][0]
    assert c["num_tokens"] == len(c["tokens"]) == len(c["logprobs"]) == len(c["top_logprobs"]), c
    assert c["finish_reason"] in ("stop", "length")
    assert all(lp <= 0 for lp in c["logprobs"])
print(f"generate from a run directory: {right}/40 reversals exact")
assert right >= 36, right
PY
"$POSTTRAIN" generate --model "$tmp/sft/checkpoints/step-00000050" --input "$tmp/prompts.jsonl" --output "$tmp/ckpt.jsonl" --max-new-tokens 10 > /dev/null 2>&1 || fail "generate from a checkpoint dir"
"$POSTTRAIN" generate --model "$tmp/sft/model" --input "$tmp/prompts.jsonl" --output "$tmp/hf.jsonl" --max-new-tokens 10 > /dev/null 2>&1 || fail "generate from an HF dir"
[ "$(wc -l < "$tmp/ckpt.jsonl")" -eq 41 ] || fail "checkpoint dir output"

# Several seeded samples per prompt: reproducible, and different from each other.
"$POSTTRAIN" generate --model "$tmp/sft/model" --input "$tmp/prompts.jsonl" -n 4 --temperature 1.5 --seed 3 --output "$tmp/s1.jsonl" --max-new-tokens 10 > /dev/null 2>&1
"$POSTTRAIN" generate --model "$tmp/sft/model" --input "$tmp/prompts.jsonl" -n 4 --temperature 1.5 --seed 3 --output "$tmp/s2.jsonl" --max-new-tokens 10 --max-batch 7 > /dev/null 2>&1
# Tokens must match; log-probs may differ in the last bits (other GEMM shapes for another batch).
tokens() { "$PT_PYTHON" -c 'import json,sys; [print([c["tokens"] for c in json.loads(l)["completions"]]) for l in open(sys.argv[1])]' "$1"; }
[ "$(tokens "$tmp/s1.jsonl")" = "$(tokens "$tmp/s2.jsonl")" ] || fail "seeded samples depend on the batch size"
"$PT_PYTHON" -c 'import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]
assert all(len(r["completions"]) == 4 for r in rows)
assert sum(len({c["text"] for c in r["completions"]}) > 1 for r in rows) > 10' "$tmp/s1.jsonl" || fail "samples"
echo "seeded sampling: 4 completions per prompt, identical with another batch size"

# The sampling filters at temperature 1.5: top-k 1, a tiny top-p and min-p 1 leave only the most likely
# token, so every sample is the greedy completion; unfiltered samples (s1) are not, and another seed
# draws others.
gen() { "$POSTTRAIN" generate --model "$tmp/sft/model" --input "$tmp/prompts.jsonl" --max-new-tokens 10 --output "$tmp/$1.jsonl" "${@:2}" > /dev/null 2>&1 || fail "generate ${*:2}"; }
gen topk1 -n 3 --temperature 1.5 --seed 3 --top-k 1
gen topp0 -n 3 --temperature 1.5 --seed 3 --top-p 0.000001
gen minp1 -n 3 --temperature 1.5 --seed 3 --min-p 1
gen seed4 -n 4 --temperature 1.5 --seed 4
# --stop: the greedy completion cut before the first of the stop strings (a one- and a two-character
# one), finish reason "stop"; the whole greedy completion where neither occurs.
gen stop --stop 3 --stop 21
"$PT_PYTHON" - "$tmp" <<'PY'
import json, sys
t = sys.argv[1]
rows = lambda n: [json.loads(l) for l in open(f"{t}/{n}.jsonl")]
greedy = [r["completions"][0] for r in rows("hf")]
for n in ("topk1", "topp0", "minp1"):
    for g, r in zip(greedy, rows(n)):
        assert [c["text"] for c in r["completions"]] == [g["text"]] * 3, (n, g["text"], r["completions"])
s1, s4 = rows("s1"), rows("seed4")
off = sum(c["text"] != g["text"] for g, r in zip(greedy, s1) for c in r["completions"])
assert off >= 20, off
assert [[c["text"] for c in r["completions"]] for r in s1] != [[c["text"] for c in r["completions"]] for r in s4]
cut = 0
for g, r in zip(greedy, rows("stop")):
    c = r["completions"][0]
    at = [i for i in (g["text"].find("3"), g["text"].find("21")) if i >= 0]
    if at:
        cut += 1
        assert c["text"] == g["text"][:min(at)] and c["finish_reason"] == "stop", (g, c)
    else:
        assert c["text"] == g["text"] and c["finish_reason"] == g["finish_reason"], (g, c)
assert cut >= 10, cut
print(f"sampling filters: top-k 1, top-p 1e-6 and min-p 1 at T 1.5 give the greedy text (3 samples x 41 prompts); "
      f"unfiltered samples differ from greedy in {off}/164; --stop 3 --stop 21 cut {cut}/41 greedy completions exactly there")
PY

# LoRA run: the adapter over its base.
"$POSTTRAIN" run examples/quickstart/recipe.yaml --set run.output_dir="$tmp" --set run.name=lora --set trainer.max_steps=10 \
  --set 'model.lora={rank: 8, alpha: 16}' --set trainer.eval.at_start=false --set trainer.eval.at_end=false > "$tmp/lora.log" 2>&1 || { cat "$tmp/lora.log"; fail "LoRA run"; }
"$POSTTRAIN" generate --model "$tmp/lora" --input "$tmp/prompts.jsonl" --output "$tmp/lora.jsonl" --max-new-tokens 4 > "$tmp/lgen.log" 2>&1 || { cat "$tmp/lgen.log"; fail "generate from a LoRA run"; }
[ "$(wc -l < "$tmp/lora.jsonl")" -eq 41 ] || fail "LoRA output"
echo "generate: run dir, checkpoint dir, HF dir and LoRA run"

# Bad input.
expect_fail() {  # PATTERN ARGS...
  local pattern="$1"; shift
  if out="$("$POSTTRAIN" generate --model "$tmp/sft/model" "$@" 2>&1)"; then fail "accepted: $*"; fi
  echo "$out" | grep -q "$pattern" || fail "expected '$pattern', got: $out"
}
head -3 "$tmp/prompts.jsonl" > "$tmp/bad.jsonl"; echo '{"messages": [' >> "$tmp/bad.jsonl"
expect_fail "bad.jsonl:4: malformed JSON" --input "$tmp/bad.jsonl"
: > "$tmp/empty.jsonl"
expect_fail "no prompts (the file is empty)" --input "$tmp/empty.jsonl"
"$PT_PYTHON" -c 'import json; print(json.dumps({"prompt": "1" * 400}))' > "$tmp/long.jsonl"
expect_fail "long.jsonl:1: the prompt has .* tokens" --input "$tmp/long.jsonl" --max-new-tokens 8
"$POSTTRAIN" generate --model "$tmp/sft/model" --input "$tmp/long.jsonl" --max-new-tokens 8 --truncate-prompts --output "$tmp/long_out.jsonl" > /dev/null 2>&1 || fail "--truncate-prompts"
grep -q '"prompt_tokens":248' "$tmp/long_out.jsonl" || fail "truncated prompt length: $(cat "$tmp/long_out.jsonl" | head -c 200)"
echo "bad input: malformed line, empty file, over-long prompt reported; --truncate-prompts keeps the last 248 tokens"
