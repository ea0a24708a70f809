#!/usr/bin/env bash
# Streamed quantization of synthetic models of real shapes: wall time, stage seconds and peak RSS
# (sampled from /proc every 0.3 s, and the kernel's high-water mark from /usr/bin/time) per run.
# Default: llama-3.2-1b shapes with 4 and 16 layers, GPTQ W4 g128, 8 random samples of 256 tokens
# (the issue's flat-in-depth check). Models are synthesized once into the work folder.
#   bench/streamed.sh [--like llama-3.2-1b] [--layers 4,16] [--samples 8] [--seq-len 256] [--work DIR]
# Needs the assembled distribution (mvn install -DskipTests).
set -euo pipefail
cd "$(dirname "$0")/.."
like=llama-3.2-1b layers=4,16 samples=8 seq=256 work=${TMPDIR:-/tmp}/fmsmo-streamed-bench
while [ $# -gt 0 ]; do
  case "$1" in
    --like) like=$2; shift 2 ;;
    --layers) layers=$2; shift 2 ;;
    --samples) samples=$2; shift 2 ;;
    --seq-len) seq=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    *) echo "error: unknown option $1 (expected --like, --layers, --samples, --seq-len, --work)" >&2; exit 2 ;;
  esac
done
fmsmo="$PWD/distribution/target/fmsmo/bin/fmsmo"
[ -x "$fmsmo" ] || { echo "error: no distribution at $fmsmo: run mvn install -DskipTests first" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "error: /usr/bin/time is needed for the peak RSS (Debian package time)" >&2; exit 2; }
mkdir -p "$work"
printf '%-14s %6s %9s %12s %12s   %s\n' model layers wall_s peak_rss_GiB vs_first stages
first=""
for n in ${layers//,/ }; do
  model="$work/$like-$n"
  [ -f "$model/config.json" ] || "$fmsmo" synthesize --like "$like" --layers "$n" --output "$model" >/dev/null 2>&1
  out="$work/$like-$n-W4A16"
  rm -rf "$out"
  /usr/bin/time -f '%e %M' -o "$work/time.txt" "$fmsmo" quantize --model "$model" --method gptq --bits 4 --group-size 128 \
    --calibration random --num-samples "$samples" --seq-len "$seq" --format compressed-tensors --output "$out" --json \
    > "$work/run.json" 2> "$work/run.err"
  read -r wall kb < "$work/time.txt"
  gib=$(awk -v k="$kb" 'BEGIN { printf "%.2f", k / 1048576 }')
  [ -n "$first" ] || first=$gib
  ratio=$(awk -v a="$gib" -v b="$first" 'BEGIN { printf "%.2f", a / b }')
  stages=$(/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(" ".join(f"{k[:-8]}={v:.0f}" for k,v in r.items() if k.endswith("_seconds")))' "$work/run.json")
  printf '%-14s %6s %9s %12s %12s   %s\n' "$like" "$n" "$wall" "$gib" "$ratio" "$stages"
done
