#!/usr/bin/env bash
# Build the Lambda bootstraps: bin/<fn>/bootstrap for every functions/<fn>, for the
# provided.al2023 runtime on arm64 (GOARCH=amd64 for x86_64 functions; the local
# end-to-end test builds for the host itself).
#
#   .ci/build-lambdas.sh [OUT_DIR]     default OUT_DIR: bin
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/bin}"
ARCH="${GOARCH:-arm64}"
cd "$ROOT"
for dir in functions/*/; do
  fn="$(basename "$dir")"
  GOOS=linux GOARCH="$ARCH" CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags='-s -w' \
    -o "$OUT/$fn/bootstrap" "./functions/$fn"
  printf 'build-lambdas: %s/%s/bootstrap (%s, %s bytes)\n' "${OUT#"$ROOT"/}" "$fn" "$ARCH" "$(stat -c %s "$OUT/$fn/bootstrap")" >&2
done
