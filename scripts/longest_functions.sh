#!/usr/bin/env bash
# The longest functions (lambdas excluded: they count in their enclosing function) and the longest
# files under lib/ — the numbers the reshaping notes compare before and after.
# Usage: scripts/longest_functions.sh [N=15] [DIR=lib]
set -euo pipefail
n=${1:-15}
dir=${2:-lib}
command -v ctags >/dev/null || { echo "needs universal-ctags (apt install universal-ctags)" >&2; exit 2; }
echo "== longest functions in $dir/ (lines) =="
find "$dir" -name '*.cpp' -o -name '*.h' | sort |
  xargs ctags --fields=+ne --c++-kinds=f --output-format=json -o - 2>/dev/null |
  python3 -c '
import json, sys
rows = []
for line in sys.stdin:
    t = json.loads(line)
    if t.get("kind") != "function" or "end" not in t or t["name"].startswith("__anon"):
        continue
    name = (t["scope"] + "::" if t.get("scope") and "__anon" not in t["scope"] else "") + t["name"]
    rows.append((t["end"] - t["line"] + 1, name, "%s:%d" % (t["path"], t["line"])))
rows.sort(key=lambda r: -r[0])
for length, name, where in rows[:int(sys.argv[1])]:
    print("%5d  %-60s %s" % (length, name, where))
' "$n"
echo "== longest files in $dir/ (lines) =="
find "$dir" -name '*.cpp' -o -name '*.h' | xargs wc -l | grep -v ' total$' | sort -rn | head -n "$n"
