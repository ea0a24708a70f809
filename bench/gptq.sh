#!/usr/bin/env bash
# GPTQ time per layer and peak memory for synthetic layers (W4, group 128, 8,192 calibration
# tokens): square 2048 and 4096 and the 8B shapes 4096→14336 and 14336→4096 by default. Prints a
# table and writes bench/results/gptq.json. When Debian's python3-torch is installed (with
# libopenblas0-pthread), the PyTorch reference (bench/gptq_torch.py) runs on the same shapes right
# after, and the ratio fmsmo/torch is printed per phase.
#   bench/gptq.sh [--shapes 2048,4096,4096x14336,14336x4096] [--tokens 8192] [--repeat 3] [--output FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
export MAVEN_OPTS="${MAVEN_OPTS:---sun-misc-unsafe-memory-access=allow}"
args=("$@")
[[ " ${args[*]} " == *" --shapes "* ]] || args+=(--shapes 2048,4096,4096x14336,14336x4096)
output="$PWD/bench/results/gptq.json"
for ((i = 0; i < ${#args[@]}; i++)); do [[ ${args[i]} == --output ]] && output=${args[i + 1]}; done
[[ " ${args[*]} " == *" --output "* ]] || args+=(--output "$output")
cache="$PWD/target/djl-cache"
mvn -B -q install -DskipTests -pl plugins/gptq -am
mvn -B -q -pl plugins/gptq test-compile exec:exec -Dexec.executable="$JAVA_HOME/bin/java" -Dexec.classpathScope=test \
  -Dexec.args="-Xmx12g --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Dai.djl.offline=true -DDJL_CACHE_DIR=$cache -DENGINE_CACHE_DIR=$cache -cp %classpath org.fmsmo.plugin.gptq.GptqBenchmark ${args[*]}"

if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "no PyTorch reference: install Debian's python3-torch and libopenblas0-pthread to time it and print the ratio"
  exit 0
fi
torch_args=("${args[@]}")
for ((i = 0; i < ${#torch_args[@]}; i++)); do [[ ${torch_args[i]} == --output ]] && torch_args[i + 1]="${output%.json}-torch.json"; done
# OpenBLAS tuning variables would make the reference slower than it is for a user
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/gptq_torch.py "${torch_args[@]}"
/usr/bin/python3 - "$output" "${output%.json}-torch.json" <<'PY'
import json, sys
mine = {(r["in"], r["out"]): r for r in json.load(open(sys.argv[1]))["layers"]}
ref = {(r["in"], r["out"]): r for r in json.load(open(sys.argv[2]))["layers"]}
print(f"{'in x out':>12} {'hessian':>8} {'factor':>8} {'quant':>8} {'total':>8}   fmsmo time / torch time")
for key, r in mine.items():
    t = ref.get(key)
    if t:
        ratios = [r[k] / t[k] for k in ("hessian_s", "factor_s", "quantize_s", "total_s")]
        print(f"{key[0]:>6}x{key[1]:<5} " + " ".join(f"{x:8.2f}" for x in ratios))
PY
