# shellcheck shell=bash
# Shared settings and helpers for deploy/local/*.sh. Sourced, never executed.
# Callers set `set -euo pipefail` themselves.
# shellcheck disable=SC2034  # the variables are used by the sourcing files

# Resolve paths from this file's location so the scripts work from any cwd
# and from any clone location.
GOV_SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GOV_REPO_ROOT=$(cd "$GOV_SCRIPT_DIR/../.." && pwd)

# Everything the local servers write lives here (gitignored). Made absolute
# because the paths end up in server configs and in other processes' cwd.
GOV_LOCAL_DIR=${GOV_LOCAL_DIR:-$GOV_REPO_ROOT/.local}
mkdir -p "$GOV_LOCAL_DIR"
GOV_LOCAL_DIR=$(cd "$GOV_LOCAL_DIR" && pwd)
export GOV_LOCAL_DIR

GOV_PG_PORT=${GOV_PG_PORT:-25432}
GOV_KAFKA_PORT=${GOV_KAFKA_PORT:-29092}
GOV_KAFKA_CONTROLLER_PORT=${GOV_KAFKA_CONTROLLER_PORT:-29093}

GOV_LOG_DIR=$GOV_LOCAL_DIR/logs
GOV_RUN_DIR=$GOV_LOCAL_DIR/run

# Databases, one per service; the env var names follow the service names.
GOV_DATABASES=(petitions targets notifier)

# Progress goes to stderr so that stdout stays clean for `infra.sh env`.
say() { printf '[infra] %s\n' "$*" >&2; }
die() { printf '[infra] ERROR: %s\n' "$*" >&2; exit 1; }

# Print the last lines of a log file (to stderr) to explain a failure.
show_log_tail() {
  local file=$1 lines=${2:-40}
  if [[ -s $file ]]; then
    printf '[infra] ---- last %s lines of %s ----\n' "$lines" "$file" >&2
    tail -n "$lines" "$file" >&2
    printf '[infra] ----\n' >&2
  fi
}

# True when something accepts TCP connections on 127.0.0.1:$1. Uses bash's
# /dev/tcp so no extra tool (nc, ss) is needed; the subshell + timeout keep a
# filtered port from hanging us.
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# True while process $1 exists and is not a zombie. kill -0 alone also
# succeeds for a zombie, and some container inits reap orphans late or never.
pid_alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}

# Quote a value for a POSIX shell `export` line.
sh_quote() {
  local v=$1
  printf "'%s'" "${v//\'/\'\\\'\'}"
}

# Serialise start/stop of the same GOV_LOCAL_DIR (e.g. two with-infra.sh runs
# at once). The lock fd must be closed for the servers we launch (`9>&-`),
# otherwise they would inherit it and hold the lock forever.
take_lock() {
  mkdir -p "$GOV_RUN_DIR"
  exec 9>"$GOV_RUN_DIR/infra.lock"
  if ! flock -w 300 9; then
    die "another infra.sh is still busy with $GOV_LOCAL_DIR (lock $GOV_RUN_DIR/infra.lock)"
  fi
}
