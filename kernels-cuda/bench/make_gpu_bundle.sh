#!/usr/bin/env bash
# Packs what the Java half of the GPU check needs on a GPU machine that has no JDK: a jlink'd
# runtime (java.base and java.logging, ~40 MB) and the jars (fmsmo-api, kernels-cuda with its
# kernels, the DJL api that the backend classes name). Build first (mvn -o install -DskipTests,
# or package -pl kernels-cuda -am). The folder is git-ignored and travels with a device run:
#   kernels-cuda/bench/make_gpu_bundle.sh gpu-run/bundle
#   (GPU machine) kernels-cuda/bench/gpu_check.sh OUT gpu-run/kernels gpu-run/bundle
# Usage: make_gpu_bundle.sh OUTPUT_DIR
set -euo pipefail
out=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
jdk=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
version=$(sed -n 's:.*<version>\(.*\)</version>.*:\1:p' "$root/pom.xml" | head -1)
api="$root/fmsmo-api/target/fmsmo-api-$version.jar"
kernels="$root/kernels-cuda/target/fmsmo-kernels-cuda-$version.jar"
djl=$(find "$HOME/.m2/repository/ai/djl/api" -name 'api-*.jar' | sort | tail -1)
for f in "$api" "$kernels" "$djl"; do
  [[ -f "$f" ]] || { echo "error: $f is missing: build the project first (mvn -o package -pl kernels-cuda -am -DskipTests)" >&2; exit 1; }
done
rm -rf "$out"
mkdir -p "$out/jars"
"$jdk/bin/jlink" --add-modules java.base,java.logging --compress=zip-9 --strip-debug --no-header-files --no-man-pages \
  --output "$out/jre"
cp "$api" "$kernels" "$djl" "$out/jars/"
du -sh "$out"
