#!/usr/bin/env bash
# Every recipe under configs/ and examples/ validates (and we know how many there are), and every
# broken recipe in tests/assets/bad-recipes/ fails with the message in its "# expect:" header.
set -euo pipefail
: "${POSTTRAIN:?path to the posttrain binary}"
EXPECTED_RECIPES=33  # update when adding recipes to configs/ or examples/

mapfile -t recipes < <(find configs examples -name '*.yaml' | sort)
echo "found ${#recipes[@]} recipes"
if [ "${#recipes[@]}" -ne "$EXPECTED_RECIPES" ]; then
  echo "FAIL: expected $EXPECTED_RECIPES recipes under configs/ and examples/, found ${#recipes[@]}" >&2
  exit 1
fi
"$POSTTRAIN" validate "${recipes[@]}"

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
