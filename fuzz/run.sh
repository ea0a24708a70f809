#!/usr/bin/env bash
# Fuzzes every parser target of ParsersFuzzTest for SECONDS each (default 60) with Jazzer, one JVM per
# target (Jazzer fuzzes one target per run). A finding fails the run and leaves its input under
# fuzz/src/test/resources/org/fmsmo/fuzz/ParsersFuzzTestInputs/<target>/: commit it, and `mvn verify`
# replays it from then on. The corpus Jazzer grows is kept in fuzz/.cifuzz-corpus (git-ignored).
#   fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
export MAVEN_OPTS="${MAVEN_OPTS:---sun-misc-unsafe-memory-access=allow}"
seconds=${1:-60}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(safetensorsHeader configJson recipe onnxModel compressedTensorsReader gptqReader ggufReader pluginManifest tokenizerJson)
# the targets run against the installed fmsmo-core and plugin jars: install them (quick when up to date)
mvn -B -q install -DskipTests -pl fuzz -am
log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=()
for t in "${targets[@]}"; do
  if JAZZER_FUZZ=1 mvn -B -q -pl fuzz surefire:test -Dtest="ParsersFuzzTest#$t" -Djazzer.max_duration="${seconds}s" \
      -Dsurefire.failIfNoSpecifiedTests=false >"$log" 2>&1; then
    echo "$t: ${seconds}s, no finding ($(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 | sed -E 's/[[:space:]]+/ /g'))"
  else
    echo "$t: FINDING or failure; the end of its log:"
    grep -vE '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)' "$log" | tail -40
    failed+=("$t")
  fi
done
[[ ${#failed[@]} -eq 0 ]] || { echo "fuzzing failed for: ${failed[*]}"; exit 1; }
