#!/usr/bin/env bash
# Builds the cfybroker image from infra/kubernetes/Dockerfile (context: the repository
# root) with the first container tool that has a working engine: docker, podman, then
# buildah. Exits non-zero, saying why, when there is none: a client alone (a `docker`
# binary without a reachable daemon) cannot build.
#
#   .ci/build-image.sh [IMAGE]      default cfybroker:dev; CONTAINER_TOOL=podman forces a tool
set -euo pipefail
cd "$(dirname "$0")/.."
image="${1:-cfybroker:dev}"
dockerfile=infra/kubernetes/Dockerfile

tools=(docker podman buildah)
[[ -n "${CONTAINER_TOOL:-}" ]] && tools=("$CONTAINER_TOOL")
tried=()
for tool in "${tools[@]}"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    tried+=("$tool: not installed")
    continue
  fi
  if ! err="$("$tool" info 2>&1 >/dev/null)"; then
    tried+=("$tool: installed, but its engine does not answer ($(tail -n 1 <<<"$err"))")
    continue
  fi
  echo "image: building $image with $tool" >&2
  case "$tool" in
    buildah) exec buildah bud -f "$dockerfile" -t "$image" . ;;
    *) exec "$tool" build -f "$dockerfile" -t "$image" . ;;
  esac
done
{
  echo "image: no container engine to build $image with:"
  printf '  %s\n' "${tried[@]}"
  echo "Start a Docker daemon (or install podman or buildah) and run make image again."
  echo "The static binary the image holds is built and checked by: go test -run TestStaticBuild ./cmd/cfybroker"
} >&2
exit 1
