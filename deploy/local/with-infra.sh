#!/usr/bin/env bash
# Run one command with the local infrastructure up, e.g.
#   deploy/local/with-infra.sh uv run pytest -m integration
# Starts PostgreSQL/Kafka if needed, exports PETITIONS_/TARGETS_/
# NOTIFIER_DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS, runs the command, then
# stops only the servers it started itself (what was already up, e.g. after
# `make up`, stays up). Exits with the command's exit code, also on failure
# or Ctrl-C.
set -euo pipefail

if (($# == 0)); then
  echo "usage: with-infra.sh <command> [args...]" >&2
  exit 2
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
infra=$here/infra.sh

# What runs before we touch anything. `status` exits non-zero for a stopped
# component; an external server counts as running (we never stop those).
started=()
for component in pg kafka; do
  if ! "$infra" status "$component" >/dev/null 2>&1; then
    started+=("$component")
  fi
done

# shellcheck disable=SC2317  # invoked by the traps below
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if ((${#started[@]} > 0)); then
    # Stopping must not change the exit code we report.
    "$infra" stop "${started[@]}" || echo "[with-infra] WARNING: stopping ${started[*]} failed" >&2
  fi
  exit "$rc"
}
# EXIT covers normal ends and failures (set -e); the signal traps turn a
# Ctrl-C/kill into an ordinary exit with the conventional 128+N code.
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

"$infra" start
env_lines=$("$infra" env)

# The exports go into a subshell only: in this shell KAFKA_BOOTSTRAP_SERVERS
# etc. would make the `infra.sh stop` in cleanup() take our own servers for
# external ones and leave them running.
set +e
(
  eval "$env_lines"
  exec "$@"
)
rc=$?
set -e
exit "$rc"
