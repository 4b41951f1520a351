#!/usr/bin/env bash
# Runs the three services (and a local webhook sink) as separate uvicorn processes on
# loopback, against the servers named by the environment (see infra.sh env).
#
#   suite.sh foreground   migrate, start, wait; Ctrl-C stops them      (make run)
#   suite.sh background   migrate, start, return once all are ready    (make up)
#   suite.sh stop         stop what `background` started              (make down)
#   suite.sh status       show what runs
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LOCAL=${GOV_LOCAL_DIR:-$ROOT/.local}
RUN_DIR=$LOCAL/run
LOG_DIR=$LOCAL/logs
PYTHON=${GOV_PYTHON:-$ROOT/.venv/bin/python}

: "${PETITIONS_PORT:=8101}" "${TARGETS_PORT:=8102}" "${NOTIFIER_PORT:=8103}" "${WEBHOOK_SINK_PORT:=8199}"
: "${CONSOLE_PORT:=8180}"
# Development-only secret shared by the notifier and the local sink; set a real one elsewhere.
: "${NOTIFIER_WEBHOOK_SECRET:=whsec_ZGV2LW9ubHktd2ViaG9vay1rZXktbmV2ZXItaW4tcHJvZCEh}"
: "${NOTIFIER_WEBHOOK_URL:=http://127.0.0.1:$WEBHOOK_SINK_PORT/hooks/case-events}"
export NOTIFIER_WEBHOOK_SECRET NOTIFIER_WEBHOOK_URL
export WEBHOOK_SINK_SECRET=$NOTIFIER_WEBHOOK_SECRET WEBHOOK_SINK_LOG=$LOG_DIR/webhook-sink.jsonl

# Sign-in on a developer's machine: petitions-api runs the built-in token issuer with the
# demonstration accounts (README, "Signing in"); the other services trust its JWKS.
: "${GOV_AUTH_ISSUER:=http://127.0.0.1:$PETITIONS_PORT}"
export GOV_AUTH_ISSUER
ISSUER_ENV="GOV_AUTH_ACCOUNTS_FILE=${GOV_AUTH_ACCOUNTS_FILE:-$ROOT/deploy/local/demo-accounts.yaml}"
VERIFIER_ENV="GOV_AUTH_JWKS_URL=${GOV_AUTH_JWKS_URL:-http://127.0.0.1:$PETITIONS_PORT/.well-known/jwks.json}"
# The console (frontend/console/dist, built by `make console`) proxies /api/<service> to them.
CONSOLE_ENV="CONSOLE_PETITIONS_URL=http://127.0.0.1:$PETITIONS_PORT CONSOLE_TARGETS_URL=http://127.0.0.1:$TARGETS_PORT CONSOLE_NOTIFIER_URL=http://127.0.0.1:$NOTIFIER_PORT"

# name|port|uvicorn arguments|readiness path|extra environment
PROCESSES=(
  "webhook-sink|$WEBHOOK_SINK_PORT|--app-dir deploy/local webhook_sink:app|/healthz|"
  "petitions-api|$PETITIONS_PORT|--factory petitions_api.main:create_app|/readyz|$ISSUER_ENV"
  "targets-api|$TARGETS_PORT|--factory targets_api.main:create_app|/readyz|$VERIFIER_ENV"
  "notifier|$NOTIFIER_PORT|--factory notifier.main:create_app|/readyz|$VERIFIER_ENV"
  "console|$CONSOLE_PORT|--app-dir deploy/local console_server:app|/healthz|$CONSOLE_ENV"
)

say() { printf '[suite] %s\n' "$*" >&2; }

require_env() {
  local missing=()
  for v in PETITIONS_DATABASE_URL TARGETS_DATABASE_URL NOTIFIER_DATABASE_URL KAFKA_BOOTSTRAP_SERVERS; do
    [[ -n ${!v:-} ]] || missing+=("$v")
  done
  if ((${#missing[@]})); then
    say "missing ${missing[*]}: run through deploy/local/with-infra.sh or eval \"\$(deploy/local/infra.sh env)\""
    exit 2
  fi
}

migrate() {
  local service
  for service in petitions-api targets-api notifier; do
    say "migrating $service"
    (cd "$ROOT" && "$PYTHON" -m alembic -c "services/$service/alembic.ini" upgrade head)
  done
  # Reference data and the first customer's plan; both loads are idempotent. (petitions-api
  # loads its org units and categories itself at start-up.)
  say "loading the work-report catalogue"
  (cd "$ROOT" && "$PYTHON" -m targets_api.cli seed)
}

pid_of() {
  local file=$RUN_DIR/$1.pid pid
  [[ -f $file ]] || return 1
  pid=$(<"$file")
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

start_all() {
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  local entry name port args path extra_env
  for entry in "${PROCESSES[@]}"; do
    IFS='|' read -r name port args path extra_env <<<"$entry"
    if pid_of "$name" >/dev/null; then
      say "$name already runs (pid $(pid_of "$name"))"
      continue
    fi
    # shellcheck disable=SC2086 # args and extra_env are lists of words on purpose
    (cd "$ROOT" && exec env $extra_env "$PYTHON" -m uvicorn $args --host 127.0.0.1 \
      --port "$port" >>"$LOG_DIR/$name.log" 2>&1) &
    echo $! >"$RUN_DIR/$name.pid"
  done
  for entry in "${PROCESSES[@]}"; do
    IFS='|' read -r name port args path _ <<<"$entry"
    wait_ready "$name" "http://127.0.0.1:$port$path"
  done
  cat >&2 <<EOT
[suite] ready:
  console        http://127.0.0.1:$CONSOLE_PORT   (sign in: frontend/console/README.md)
  petitions-api  http://127.0.0.1:$PETITIONS_PORT/docs
  targets-api    http://127.0.0.1:$TARGETS_PORT/docs
  notifier       http://127.0.0.1:$NOTIFIER_PORT/docs
  webhook sink   http://127.0.0.1:$WEBHOOK_SINK_PORT/received
  logs           $LOG_DIR
EOT
}

wait_ready() {
  local name=$1 url=$2 deadline=$((SECONDS + ${GOV_SUITE_START_TIMEOUT:-120}))
  while ((SECONDS < deadline)); do
    if ! pid_of "$name" >/dev/null; then
      say "$name exited during start; last lines of $LOG_DIR/$name.log:"
      tail -n 30 "$LOG_DIR/$name.log" >&2 || true
      return 1
    fi
    if curl -fs -o /dev/null --max-time 2 "$url"; then
      say "$name ready"
      return 0
    fi
    sleep 0.5
  done
  say "$name not ready after ${GOV_SUITE_START_TIMEOUT:-120}s ($url); see $LOG_DIR/$name.log"
  return 1
}

stop_all() {
  local i entry name pid
  for ((i = ${#PROCESSES[@]} - 1; i >= 0; i--)); do
    IFS='|' read -r name _ <<<"${PROCESSES[i]}"
    if pid=$(pid_of "$name"); then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
      say "$name stopped"
    fi
    rm -f "$RUN_DIR/$name.pid"
  done
}

status_all() {
  local entry name port rc=0
  for entry in "${PROCESSES[@]}"; do
    IFS='|' read -r name port _ <<<"$entry"
    if pid=$(pid_of "$name"); then echo "$name: running (pid $pid, port $port)"; else echo "$name: stopped"; rc=1; fi
  done
  return $rc
}

case ${1:-} in
  foreground)
    require_env
    migrate
    trap 'stop_all; exit 130' INT
    trap 'stop_all; exit 143' TERM
    trap 'stop_all' EXIT
    start_all
    say "press Ctrl-C to stop"
    while true; do
      # A service that dies is reported rather than silently missing.
      for entry in "${PROCESSES[@]}"; do
        IFS='|' read -r name _ <<<"$entry"
        pid_of "$name" >/dev/null || { say "$name has exited; see $LOG_DIR/$name.log"; exit 1; }
      done
      sleep 2
    done
    ;;
  background)
    require_env
    migrate
    start_all || { stop_all; exit 1; }
    ;;
  stop) stop_all ;;
  status) status_all ;;
  *) echo "usage: suite.sh foreground|background|stop|status" >&2; exit 2 ;;
esac
