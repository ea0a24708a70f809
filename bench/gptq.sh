#!/usr/bin/env bash
# GPTQ time per layer and peak memory for square synthetic layers (issue: 1024/2048/4096,
# 8,192 calibration tokens, W4 group 128). Prints a table and writes bench/results/gptq.json.
#   bench/gptq.sh [--shapes 2048,4096,4096x14336,14336x4096] [--tokens 8192] [--repeat 3] [--output FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
export MAVEN_OPTS="${MAVEN_OPTS:---sun-misc-unsafe-memory-access=allow}"
args=("$@")
[[ " ${args[*]} " == *" --output "* ]] || args+=(--output "$PWD/bench/results/gptq.json")
cache="$PWD/target/djl-cache"
mvn -B -q install -DskipTests -pl plugins/gptq -am
mvn -B -q -pl plugins/gptq test-compile exec:exec -Dexec.executable="$JAVA_HOME/bin/java" -Dexec.classpathScope=test \
  -Dexec.args="-Xmx6g --enable-native-access=ALL-UNNAMED -Dai.djl.offline=true -DDJL_CACHE_DIR=$cache -DENGINE_CACHE_DIR=$cache -cp %classpath org.fmsmo.plugin.gptq.GptqBenchmark ${args[*]}"
