#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Local infrastructure for development and tests: a throwaway PostgreSQL
# cluster and a single-node Kafka (KRaft), both under $GOV_LOCAL_DIR
# (default <repo>/.local), no Docker needed. See deploy/local/README.md.
#
#   infra.sh start  [pg] [kafka]   start (idempotent), return when ready
#   infra.sh stop   [pg] [kafka]   stop what these scripts started
#   infra.sh status [pg] [kafka]   show state; exit 0 only if all run
#   infra.sh env                   print `export` lines for the services
set -euo pipefail

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/pg.sh
source "$GOV_SCRIPT_DIR/lib/pg.sh"
# shellcheck source=lib/kafka.sh
source "$GOV_SCRIPT_DIR/lib/kafka.sh"

usage() {
  cat >&2 <<'USAGE'
usage: infra.sh start|stop|status [pg] [kafka]
       infra.sh env
Environment: GOV_LOCAL_DIR, GOV_PG_PORT (25432), GOV_KAFKA_PORT (29092),
GOV_KAFKA_CONTROLLER_PORT (29093), GOV_MAVEN_REPO, GOV_KAFKA_START_TIMEOUT (90).
Set PETITIONS_/TARGETS_/NOTIFIER_DATABASE_URL (all three) or
KAFKA_BOOTSTRAP_SERVERS to use existing servers instead.
USAGE
  exit 2
}

env_lines() {
  pg_env_lines
  kafka_env_lines
}

# Components named on the command line, in start order.
select_components() {
  COMPONENTS=()
  local c
  if (($# == 0)); then
    COMPONENTS=(pg kafka)
    return
  fi
  for c in "$@"; do
    case $c in
      pg | postgres | postgresql) COMPONENTS+=(pg) ;;
      kafka) COMPONENTS+=(kafka) ;;
      *) usage ;;
    esac
  done
}

cmd_start() {
  local c
  take_lock
  # Check every prerequisite before starting anything, so a missing java does
  # not leave a PostgreSQL running behind a failed start.
  for c in "${COMPONENTS[@]}"; do
    case $c in
      pg) pg_is_external || pg_pid >/dev/null || pg_prereqs ;;
      kafka) kafka_is_external || kafka_pid >/dev/null || kafka_prereqs ;;
    esac
  done
  for c in "${COMPONENTS[@]}"; do
    "${c}_start"
  done
  env_lines >"$GOV_LOCAL_DIR/env.sh"
  say "environment written to $GOV_LOCAL_DIR/env.sh (or: eval \"\$(deploy/local/infra.sh env)\")"
}

cmd_stop() {
  local i
  take_lock
  # Reverse order of start.
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    "${COMPONENTS[i]}_stop"
  done
}

cmd_status() {
  local c rc=0
  for c in "${COMPONENTS[@]}"; do
    "${c}_status" || rc=1
  done
  return "$rc"
}

(($# >= 1)) || usage
command=$1
shift
case $command in
  start) select_components "$@"; cmd_start ;;
  stop) select_components "$@"; cmd_stop ;;
  status) select_components "$@"; cmd_status ;;
  env) (($# == 0)) || usage; env_lines ;;
  -h | --help | help) usage ;;
  *) usage ;;
esac
