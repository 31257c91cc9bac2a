#!/usr/bin/env bash
# Non-text event sequences with a model created from the recipe (model.init, no checkpoint, no
# tokenizer): the example's synthetic sessions are learned to near the process's loss floor (0.864
# nats per prediction), the saved model loads in transformers with the same logits, and a killed run
# resumes exactly from its saved weights (not a new random init); per-position loss weights act
# as masks at 0, are scale-invariant, and resume exactly.
set -euo pipefail
: "${POSTTRAIN:?}" "${PT_PYTHON:?}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
source tests/integration/lib/common.sh
recipe=examples/events/recipe.yaml
"$POSTTRAIN" run "$recipe" --set run.output_dir="$tmp" --set run.name=learn --set trainer.max_steps=100 \
  > "$tmp/learn.log" 2>&1 || { cat "$tmp/learn.log"; fail "events run"; }
"$PT_PYTHON" - "$tmp/learn/metrics.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"eval/loss"' in l]
floor = 0.864
print("event sessions: held-out loss by step " + ", ".join(f"{e['step']}: {e['eval/loss']:.3f}" for e in ev) +
      f" (floor {floor})")
assert ev[-1]["eval/loss"] < floor + 0.2, ev[-1]
PY
[ ! -f "$tmp/learn/model/tokenizer.json" ] || fail "a tokenizer-less run wrote tokenizer files"
parity "created model in transformers" "$tmp/learn/model"
resume_check resume "$recipe" loss --set run.output_dir="$tmp"
cmp "$tmp/resume-a/model/model.safetensors" "$tmp/resume-b/model/model.safetensors" || fail "final weights differ"

# Per-position loss weights (token_ids `weights`): weight 0 trains exactly what a 0 in the `trained`
# mask trains (same per-step losses up to float rounding), and scaling every weight by 2 changes
# nothing (the step's loss is the weighted mean); a weighted resume is exact.
"$PT_PYTHON" - examples/events/sessions.jsonl "$tmp" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
with open(f"{sys.argv[2]}/masked.jsonl", "w") as m, open(f"{sys.argv[2]}/weighted.jsonl", "w") as w, \
     open(f"{sys.argv[2]}/doubled.jsonl", "w") as d:
    for r in rows:
        n = len(r["ids"])
        keep = [1 if i % 3 else 0 for i in range(n)]  # every third event carries no loss
        m.write(json.dumps({"ids": r["ids"], "trained": keep}) + "\n")
        w.write(json.dumps({"ids": r["ids"], "weights": [float(k) for k in keep]}) + "\n")
        d.write(json.dumps({"ids": r["ids"], "weights": [2.0] * n}) + "\n")
PY
wrun() {  # NAME DATA
  "$POSTTRAIN" run "$recipe" --set run.output_dir="$tmp" --set run.name="$1" "${short[@]}" --set data.eval_fraction=0 --set data.max_eval_records=0 \
    --set "data.sources=[{name: sessions, path: '$2', format: token_ids}]" > "$tmp/$1.log" 2>&1 || { cat "$tmp/$1.log"; fail "weights run $1"; }
}
wrun w-masked "$tmp/masked.jsonl"
wrun w-weighted "$tmp/weighted.jsonl"
wrun w-plain "$PWD/examples/events/sessions.jsonl"
wrun w-doubled "$tmp/doubled.jsonl"
"$PT_PYTHON" - "$tmp" <<'PY'
import json, sys
def losses(name):
    return [json.loads(l)["loss"] for l in open(f"{sys.argv[1]}/{name}/metrics.jsonl") if '"loss"' in l and "eval/" not in l]
m, w, p, d = losses("w-masked"), losses("w-weighted"), losses("w-plain"), losses("w-doubled")
rel = lambda a, b: max(abs(x - y) / abs(x) for x, y in zip(a, b))
print(f"loss weights: weight 0 vs trained 0: max rel diff {rel(m, w):.1e} over {len(m)} steps; "
      f"all weights 2 vs none: {rel(p, d):.1e}; masked losses {[round(x, 4) for x in m]}")
assert len(m) == len(w) == len(p) == len(d) == 8
assert rel(m, w) < 1e-5 and rel(p, d) < 1e-5
assert rel(m, p) > 1e-3  # the masks matter
PY
resume_check w-resume "$recipe" loss --set run.output_dir="$tmp" --set data.eval_fraction=0 --set data.max_eval_records=0 \
  --set "data.sources=[{name: sessions, path: '$tmp/weighted.jsonl', format: token_ids}]"
