#!/usr/bin/env bash
# A real Kubernetes API server (kube-apiserver + etcd) on 127.0.0.1, for the controller's
# tests and for trying `cfybroker controller` by hand. No container runtime is needed.
#
#   .ci/local-k8s.sh install   build the binaries into ./.local-k8s/bin (idempotent)
#   .ci/local-k8s.sh start     start etcd and the API server; print `export` lines
#   .ci/local-k8s.sh stop      stop the API server, wait for it, then etcd
#   .ci/local-k8s.sh status    say what runs
#
# What install builds or fetches (each only when missing):
#   kube-apiserver  k8s.io/kubernetes v1.37.2, built from the Go module proxy in a throwaway
#                   module (every k8s.io staging module replaced by its v0.37.2 release).
#                   Cold build: about 5 minutes on 2 cores; seconds with a warm build cache.
#   etcd            go.etcd.io/etcd/server/v3 v3.6.16 (Debian's 3.4 lacks --unsafe-no-fsync,
#                   which envtest passes), built the same way: about 40 s cold.
#   kubectl         Debian's kubernetes-client (apt-get), linked into .local-k8s/bin.
#   controller-gen  sigs.k8s.io/controller-tools v0.23.0, for `make generate`.
#
# `start` prints:
#   KUBECONFIG          an admin kubeconfig (a static token in system:masters) for the server
#   KUBEBUILDER_ASSETS  the folder with etcd, kube-apiserver and kubectl, for envtest
#
# Environment: LOCAL_K8S_ETCD_PORT (default 23790), LOCAL_K8S_API_PORT (default 16443).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/.local-k8s"
BIN="$DIR/bin"
RUN="$DIR/run"
KUBERNETES_VERSION="v1.37.2"
STAGING_VERSION="v0.37.2"
ETCD_VERSION="v3.6.16"
CONTROLLER_TOOLS_VERSION="v0.23.0"
ETCD_PORT="${LOCAL_K8S_ETCD_PORT:-23790}"
API_PORT="${LOCAL_K8S_API_PORT:-16443}"

log() { printf 'local-k8s: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

pid_alive() {
  local pid
  [[ -f "$1" ]] || return 1
  pid="$(cat "$1")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

# stop_pidfile NAME PIDFILE SECONDS: TERM, wait up to SECONDS, then KILL; always waits.
stop_pidfile() {
  local name="$1" pidfile="$2" seconds="$3" pid i
  if ! pid_alive "$pidfile"; then
    rm -f "$pidfile"
    return 0
  fi
  pid="$(cat "$pidfile")"
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < seconds * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid) ignored TERM for ${seconds}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$pidfile"
  log "$name stopped (pid $pid)"
}

# ---------------------------------------------------------------------------------------
# install

build_apiserver() {
  [[ -x "$BIN/kube-apiserver" ]] && { log "kube-apiserver: already built"; return 0; }
  local mod="$DIR/build/kube-apiserver" gomod line name
  log "kube-apiserver: building $KUBERNETES_VERSION from the Go module proxy (about 5 minutes on a cold cache)"
  rm -rf "$mod" && mkdir -p "$mod"
  cat >"$mod/go.mod" <<EOF
module cfybroker.local/kube-apiserver

go 1.26
EOF
  cat >"$mod/main.go" <<'EOF'
// Command kube-apiserver runs the Kubernetes API server for local tests.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() { os.Exit(cli.Run(app.NewAPIServerCommand())) }
EOF
  # k8s.io/kubernetes points its staging modules at ./staging/src; replace each by its
  # published release of the same Kubernetes version.
  gomod="$(cd "$mod" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  [[ -f "$gomod" ]] || die "kube-apiserver: could not download the go.mod of k8s.io/kubernetes@$KUBERNETES_VERSION"
  while read -r line; do
    name="$(sed -n 's|^[[:space:]]*\(k8s.io/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\./staging/.*|\1|p' <<<"$line")"
    [[ -n "$name" ]] && (cd "$mod" && go mod edit -replace "$name=$name@$STAGING_VERSION")
  done <"$gomod"
  (cd "$mod" && GOFLAGS=-mod=mod go get "k8s.io/kubernetes@$KUBERNETES_VERSION" >&2 && go mod tidy >&2 &&
    CGO_ENABLED=0 go build -trimpath -o "$BIN/kube-apiserver.tmp" . >&2)
  mv "$BIN/kube-apiserver.tmp" "$BIN/kube-apiserver"
  log "kube-apiserver: built $BIN/kube-apiserver"
}

build_etcd() {
  [[ -x "$BIN/etcd" ]] && { log "etcd: already built"; return 0; }
  local mod="$DIR/build/etcd"
  log "etcd: building $ETCD_VERSION from the Go module proxy"
  rm -rf "$mod" && mkdir -p "$mod"
  cat >"$mod/go.mod" <<EOF
module cfybroker.local/etcd

go 1.26
EOF
  cat >"$mod/main.go" <<'EOF'
// Command etcd runs etcd for local tests.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
  (cd "$mod" && GOFLAGS=-mod=mod go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2 && go mod tidy >&2 &&
    CGO_ENABLED=0 go build -trimpath -o "$BIN/etcd.tmp" . >&2)
  mv "$BIN/etcd.tmp" "$BIN/etcd"
  log "etcd: built $BIN/etcd"
}

install_kubectl() {
  if ! command -v kubectl >/dev/null 2>&1; then
    log "kubectl: installing Debian's kubernetes-client"
    apt-get update -qq >&2 && apt-get install -y -qq kubernetes-client >&2
  fi
  ln -sf "$(command -v kubectl)" "$BIN/kubectl"
  log "kubectl: $("$BIN/kubectl" version --client 2>/dev/null | head -n 1)"
}

install_controller_gen() {
  [[ -x "$BIN/controller-gen" ]] && return 0
  log "controller-gen: installing $CONTROLLER_TOOLS_VERSION"
  GOBIN="$BIN" go install "sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_TOOLS_VERSION" >&2
}

cmd_install() {
  mkdir -p "$BIN"
  command -v go >/dev/null 2>&1 || die "go not found"
  command -v openssl >/dev/null 2>&1 || { apt-get update -qq >&2 && apt-get install -y -qq openssl >&2; }
  build_etcd
  build_apiserver
  install_kubectl
  install_controller_gen
}

# ---------------------------------------------------------------------------------------
# start / stop

installed() { [[ -x "$BIN/etcd" && -x "$BIN/kube-apiserver" && -x "$BIN/kubectl" ]]; }

print_exports() {
  echo "export KUBECONFIG=$RUN/kubeconfig"
  echo "export KUBEBUILDER_ASSETS=$BIN"
}

cmd_start() {
  installed || die "not installed; run: $0 install"
  if pid_alive "$RUN/kube-apiserver.pid"; then
    log "already running (API server pid $(cat "$RUN/kube-apiserver.pid")) on https://127.0.0.1:$API_PORT"
    print_exports
    return 0
  fi
  stop_pidfile etcd "$RUN/etcd.pid" 10
  rm -rf "$RUN" && mkdir -p "$RUN/certs"
  chmod 700 "$RUN"
  openssl genrsa -out "$RUN/sa.key" 2048 2>/dev/null
  openssl rsa -in "$RUN/sa.key" -pubout -out "$RUN/sa.pub" 2>/dev/null
  local token
  token="$(openssl rand -hex 24)"
  echo "$token,admin,admin,system:masters" >"$RUN/tokens.csv"

  "$BIN/etcd" --data-dir "$RUN/etcd" --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 10))" \
    --unsafe-no-fsync >"$DIR/etcd.log" 2>&1 </dev/null &
  echo $! >"$RUN/etcd.pid"

  "$BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" --secure-port "$API_PORT" \
    --bind-address 127.0.0.1 --cert-dir "$RUN/certs" \
    --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$RUN/sa.pub" \
    --service-account-signing-key-file "$RUN/sa.key" --token-auth-file "$RUN/tokens.csv" \
    --authorization-mode RBAC --service-cluster-ip-range 10.0.0.0/24 --disable-admission-plugins ServiceAccount \
    >"$DIR/kube-apiserver.log" 2>&1 </dev/null &
  echo $! >"$RUN/kube-apiserver.pid"

  cat >"$RUN/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:$API_PORT
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: $token
contexts:
- name: local
  context: {cluster: local, user: admin, namespace: default}
current-context: local
EOF
  chmod 600 "$RUN/kubeconfig"
  local i
  for ((i = 0; i < 600; i++)); do
    if "$BIN/kubectl" --kubeconfig "$RUN/kubeconfig" get --raw /readyz >/dev/null 2>&1; then
      log "running: API server https://127.0.0.1:$API_PORT (pid $(cat "$RUN/kube-apiserver.pid")), etcd pid $(cat "$RUN/etcd.pid")"
      print_exports
      return 0
    fi
    pid_alive "$RUN/kube-apiserver.pid" || die "kube-apiserver exited; see $DIR/kube-apiserver.log"
    pid_alive "$RUN/etcd.pid" || die "etcd exited; see $DIR/etcd.log"
    sleep 0.2
  done
  die "the API server was not ready within 120 s; see $DIR/kube-apiserver.log"
}

cmd_stop() {
  # The API server first, and wait for it: one whose etcd went away first may not exit.
  stop_pidfile kube-apiserver "$RUN/kube-apiserver.pid" 30
  stop_pidfile etcd "$RUN/etcd.pid" 10
}

cmd_status() {
  if pid_alive "$RUN/kube-apiserver.pid"; then
    echo "local-k8s: running, API server https://127.0.0.1:$API_PORT, KUBECONFIG=$RUN/kubeconfig"
  elif installed; then
    echo "local-k8s: installed, not running"
  else
    echo "local-k8s: not installed"
  fi
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) sed -n '5,8s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
