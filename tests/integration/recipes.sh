#!/usr/bin/env bash
# Every recipe under configs/ and examples/ validates (and we know how many there are), so do the
# launch lines their headers show (`posttrain run FILE --set ...`: each with its --set overrides), and
# every broken recipe in tests/assets/bad-recipes/ fails with the message in its "# expect:" header.
set -euo pipefail
: "${POSTTRAIN:?path to the posttrain binary}"
EXPECTED_RECIPES=41  # update when adding recipes to configs/ or examples/ (task files for posttrain eval, tasks.yaml, are not recipes)

mapfile -t recipes < <(find configs examples -name '*.yaml' ! -name tasks.yaml | sort)
echo "found ${#recipes[@]} recipes"
if [ "${#recipes[@]}" -ne "$EXPECTED_RECIPES" ]; then
  echo "FAIL: expected $EXPECTED_RECIPES recipes under configs/ and examples/, found ${#recipes[@]}" >&2
  exit 1
fi
"$POSTTRAIN" validate "${recipes[@]}"

# The header's launch lines: "#   posttrain run FILE [--set K=V ...]" and "#     --set K=V" continuations.
launches=0
while IFS= read -r -d '' line; do
  read -r -a args <<< "$line"
  "$POSTTRAIN" validate "${args[@]}" > /dev/null || { echo "FAIL: a header's launch line does not validate: $line" >&2; exit 1; }
  launches=$((launches + 1))
done < <(python3 - "${recipes[@]}" <<'PY'
import re, sys
for path in sys.argv[1:]:
    cur = None
    for line in open(path):
        if not line.startswith("#"):
            break
        m = re.match(r"#.*posttrain run (\S+\.yaml)(.*)$", line)
        if m and "mpirun" not in line:
            if cur: sys.stdout.write(" ".join(cur) + "\0")
            cur = [m.group(1)] + re.findall(r"--set \S+", m.group(2))
            cur = [cur[0]] + [t for s in cur[1:] for t in s.split(" ", 1)]
        elif cur and re.match(r"#\s+--set ", line):
            cur += [t for s in re.findall(r"--set \S+", line) for t in s.split(" ", 1)]
        elif cur:
            sys.stdout.write(" ".join(cur) + "\0")
            cur = None
    if cur: sys.stdout.write(" ".join(cur) + "\0")
PY
)
echo "$launches header launch lines validate"
[ "$launches" -ge 20 ] || { echo "FAIL: only $launches header launch lines found" >&2; exit 1; }

fails=0
for f in tests/assets/bad-recipes/*.yaml; do
  expect="$(sed -n '1s/^# expect: //p' "$f")"
  [ -n "$expect" ] || { echo "FAIL: $f has no '# expect:' header" >&2; fails=$((fails+1)); continue; }
  if out="$("$POSTTRAIN" validate "$f" 2>&1)"; then
    echo "FAIL: $f validated but should not" >&2; fails=$((fails+1)); continue
  fi
  if [[ "$out" != *"$expect"* ]]; then
    echo "FAIL: $f" >&2; echo "  expected: $expect" >&2; echo "  got:      $out" >&2; fails=$((fails+1))
  else
    echo "ok   $f"
  fi
done
count=$(ls tests/assets/bad-recipes/*.yaml | wc -l)
echo "$((count - fails)) of $count bad recipes fail as expected"
[ "$fails" -eq 0 ]
