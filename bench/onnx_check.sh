#!/usr/bin/env bash
# An ONNX decoder exported by `fmsmo export --format onnx` run in ONNX Runtime against the model
# fmsmo loads from the folder it came from: largest logit difference (relative to the largest
# logit), both perplexities and the forward times, as one JSON line (bench/OnnxCheck.java).
#   bench/onnx_check.sh MODEL_DIR ONNX_DIR [TEXT|random] [WINDOW] [WINDOWS]
# Needs the assembled distribution (mvn install -DskipTests).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "error: expected MODEL_DIR ONNX_DIR [TEXT|random] [WINDOW] [WINDOWS]" >&2; exit 2; }
home="$PWD/distribution/target/fmsmo"
[ -d "$home/lib" ] || { echo "error: no distribution at $home: run mvn install -DskipTests first" >&2; exit 2; }
[ -f "$2/model.onnx" ] || { echo "error: $2/model.onnx does not exist" >&2; exit 2; }
java=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java
cache="${XDG_CACHE_HOME:-$HOME/.cache}/fmsmo/djl"
exec "$java" --enable-native-access=ALL-UNNAMED -Dai.djl.offline=true -DDJL_CACHE_DIR="$cache" -DENGINE_CACHE_DIR="$cache" \
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dorg.slf4j.simpleLogger.log.ai.djl.util.cuda.CudaUtils=error -cp "$home/lib/*:$home/plugins/onnx/lib/*" bench/OnnxCheck.java \
  "$home/plugins" "$1" "$2/model.onnx" "${3:-random}" "${4:-128}" "${5:-2}"
