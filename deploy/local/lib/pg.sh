# shellcheck shell=bash
# PostgreSQL part of infra.sh: a throwaway cluster in $GOV_LOCAL_DIR/pg.
# Sourced after lib/common.sh.

PG_ROOT=$GOV_LOCAL_DIR/pg
PG_DATA=$PG_ROOT/data
PG_LOG=$GOV_LOG_DIR/postgres.log
PG_SUPERUSER=gov

# All three URLs given => the caller brings its own server; we neither start
# nor stop PostgreSQL.
pg_is_external() {
  [[ -n ${PETITIONS_DATABASE_URL:-} && -n ${TARGETS_DATABASE_URL:-} && -n ${NOTIFIER_DATABASE_URL:-} ]]
}

# Find a directory holding the server binaries. Debian keeps them in
# /usr/lib/postgresql/<major>/bin (only wrappers are on PATH), so look there
# too. An existing cluster pins the major version it was created with.
pg_find_bin() {
  local candidates=() dir tool ok pgv
  [[ -n ${GOV_PG_BIN:-} ]] && candidates+=("$GOV_PG_BIN")
  if [[ -f $PG_DATA/PG_VERSION ]]; then
    pgv=$(<"$PG_DATA/PG_VERSION")
    candidates+=("/usr/lib/postgresql/$pgv/bin")
  fi
  if command -v pg_ctl >/dev/null 2>&1; then
    candidates+=("$(dirname "$(readlink -f "$(command -v pg_ctl)")")")
  fi
  # Newest major first.
  while IFS= read -r dir; do
    candidates+=("$dir")
  done < <(compgen -G '/usr/lib/postgresql/*/bin' | sort -V -r)
  for dir in "${candidates[@]}"; do
    ok=1
    for tool in initdb pg_ctl postgres pg_isready psql; do
      [[ -x $dir/$tool ]] || { ok=0; break; }
    done
    if ((ok)); then
      PG_BIN=$dir
      return 0
    fi
  done
  return 1
}

pg_prereqs() {
  pg_find_bin || die "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in PATH or /usr/lib/postgresql/*/bin.
        Install them with: apt-get install postgresql-15   (or set GOV_PG_BIN=/path/to/bin),
        or point PETITIONS_DATABASE_URL, TARGETS_DATABASE_URL and NOTIFIER_DATABASE_URL at an existing server."
}

# --- running the server binaries as a non-root user -------------------------
# initdb/postgres refuse to run as root. As root we either
#  * unshare: run them in a new user namespace where our uid 0 is mapped to an
#    unprivileged uid. Files stay owned by root outside, postgres sees itself as
#    their (non-root) owner, and no parent directory needs to be traversable by
#    another user (works for a clone under a 0700 mktemp dir). Or
#  * runuser: run them as the `postgres` system user; needs the data folder to
#    be reachable by that user, so it is only the fallback.
# The mode used by initdb is stored in $PG_ROOT/run-mode and reused, because
# the file ownership depends on it.

_pg_map_ids() {
  # The mapped uid must exist in /etc/passwd: initdb looks its name up.
  if id -u postgres >/dev/null 2>&1; then
    PG_MAP_UID=$(id -u postgres); PG_MAP_GID=$(id -g postgres)
  else
    PG_MAP_UID=$(id -u nobody); PG_MAP_GID=$(id -g nobody)
  fi
}

_pg_unshare_works() {
  command -v unshare >/dev/null 2>&1 &&
    unshare --user --map-user="$PG_MAP_UID" --map-group="$PG_MAP_GID" -- true >/dev/null 2>&1
}

_pg_runuser_works() {
  command -v runuser >/dev/null 2>&1 && id -u postgres >/dev/null 2>&1 &&
    runuser -u postgres -- test -x "$GOV_LOCAL_DIR" -a -x "$GOV_LOG_DIR" >/dev/null 2>&1
}

pg_setup_runner() {
  PG_RUN=()
  if [[ $EUID -ne 0 ]]; then
    PG_MODE=direct
    return 0
  fi
  mkdir -p "$PG_ROOT" "$GOV_LOG_DIR"
  _pg_map_ids
  local mode=${GOV_PG_RUN_MODE:-}
  if [[ -z $mode && -f $PG_ROOT/run-mode ]]; then
    mode=$(<"$PG_ROOT/run-mode")
  fi
  mode=${mode:-auto}
  if [[ $mode == auto ]]; then
    if _pg_unshare_works; then
      mode=unshare
    elif _pg_runuser_works; then
      mode=runuser
    else
      die "PostgreSQL refuses to run as root, and neither works here:
        - a user namespace (unshare --user; blocked by the kernel/container?), nor
        - runuser -u postgres (no postgres user, or it cannot reach $GOV_LOCAL_DIR).
        Run as a non-root user, or set GOV_LOCAL_DIR to a folder the postgres user can reach,
        or use an external server via PETITIONS_/TARGETS_/NOTIFIER_DATABASE_URL."
    fi
  fi
  case $mode in
    unshare)
      _pg_unshare_works || die "GOV_PG_RUN_MODE=unshare but 'unshare --user' does not work here"
      PG_RUN=(unshare --user --map-user="$PG_MAP_UID" --map-group="$PG_MAP_GID" --)
      ;;
    runuser)
      _pg_runuser_works || die "GOV_PG_RUN_MODE=runuser but user postgres cannot reach $GOV_LOCAL_DIR (check the parent folders' permissions)"
      PG_RUN=(runuser -u postgres --)
      ;;
    *) die "unknown GOV_PG_RUN_MODE '$mode' (auto|unshare|runuser)" ;;
  esac
  PG_MODE=$mode
}

pg_as_owner() {
  "${PG_RUN[@]}" "$@"
}

pg_psql() {
  PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
    -h 127.0.0.1 -p "$GOV_PG_PORT" -U "$PG_SUPERUSER" "$@"
}

# --- state -------------------------------------------------------------------

# Pid of the postmaster serving *our* data dir, or nothing. The postmaster
# chdirs into its data dir, so /proc/<pid>/cwd tells whether the pid in
# postmaster.pid still is our server and not a recycled pid.
pg_pid() {
  local pid
  [[ -f $PG_DATA/postmaster.pid ]] || return 1
  pid=$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  pid_alive "$pid" || return 1
  [[ $(readlink -f "/proc/$pid/cwd" 2>/dev/null) == "$(readlink -f "$PG_DATA")" ]] || return 1
  printf '%s\n' "$pid"
}

# Port the running server listens on (line 4 of postmaster.pid).
pg_running_port() {
  sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null
}

# --- init ----------------------------------------------------------------------

_pg_init_cluster() {
  if [[ -f $PG_DATA/PG_VERSION ]]; then
    return 0
  fi
  if [[ -d $PG_DATA ]] && [[ -n $(ls -A "$PG_DATA") ]]; then
    die "$PG_DATA exists but holds no cluster; reset with: rm -rf '$PG_ROOT'"
  fi
  say "PostgreSQL: initdb in $PG_DATA (mode: $PG_MODE)"
  # initdb into a scratch dir and rename at the end, so an interrupted initdb
  # never leaves a half-made cluster behind.
  local tmp=$PG_ROOT/data.initdb
  rm -rf "$tmp" "$PG_DATA"
  mkdir -p "$PG_ROOT"
  if [[ $PG_MODE == runuser ]]; then
    chown postgres: "$PG_ROOT"
  fi
  if ! pg_as_owner "$PG_BIN/initdb" -D "$tmp" -U "$PG_SUPERUSER" -E UTF8 --locale=C \
      --auth=trust --no-instructions >"$PG_ROOT/initdb.log" 2>&1 9>&-; then
    show_log_tail "$PG_ROOT/initdb.log"
    die "initdb failed (full output: $PG_ROOT/initdb.log)"
  fi
  # Loopback TCP only, no password: this cluster is a local throwaway. There
  # is no unix socket (see below), so no `local` lines.
  cat >"$tmp/pg_hba.conf" <<'HBA'
# Written by deploy/local/lib/pg.sh: trust, loopback TCP only.
# TYPE  DATABASE  USER  ADDRESS       METHOD
host    all       all   127.0.0.1/32  trust
host    all       all   ::1/128       trust
HBA
  # Settings that change per start (port) live in gov_local.conf, rewritten by
  # every start; this include makes it win over the defaults above it.
  cat >>"$tmp/postgresql.conf" <<'CONF'

# ---- deploy/local ----
include_if_exists = 'gov_local.conf'
CONF
  mv "$tmp" "$PG_DATA"
  printf '%s\n' "$PG_MODE" >"$PG_ROOT/run-mode"
}

_pg_write_local_conf() {
  # unix_socket_directories = '': TCP only, so nothing needs /var/run/postgresql
  # and deep clone paths cannot hit the 107-byte socket path limit.
  # synchronous_commit = off: faster tests; a crash may lose the last few
  # commits but never corrupts the cluster (unlike fsync = off).
  cat >"$PG_DATA/gov_local.conf" <<CONF
# Rewritten by deploy/local/lib/pg.sh on every start: edits are lost.
listen_addresses = '127.0.0.1'
port = $GOV_PG_PORT
unix_socket_directories = ''
max_connections = 200
synchronous_commit = off
CONF
  if [[ $PG_MODE == runuser ]]; then
    chown postgres: "$PG_DATA/gov_local.conf"
  fi
}

# After a crash (kill -9) the dead postmaster may linger as a zombie until
# init reaps it; postgres takes it for a live server and refuses to start.
_pg_wait_stale_postmaster() {
  local pid deadline=$((SECONDS + 15))
  pid=$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null) || return 0
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  while [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] && ((SECONDS < deadline)); do
    sleep 0.5
  done
}

pg_ensure_databases() {
  local db exists
  for db in "${GOV_DATABASES[@]}"; do
    exists=$(pg_psql -d postgres -tA -c "select 1 from pg_database where datname = '$db'")
    if [[ $exists != 1 ]]; then
      pg_psql -d postgres -c "create database \"$db\""
      say "PostgreSQL: created database $db"
    fi
  done
}

# --- commands ----------------------------------------------------------------

pg_start() {
  local pid
  if pg_is_external; then
    say "PostgreSQL: external server (PETITIONS_/TARGETS_/NOTIFIER_DATABASE_URL are set), not starting one"
    return 0
  fi
  if pid=$(pg_pid); then
    say "PostgreSQL: already running (pid $pid, 127.0.0.1:$(pg_running_port)), nothing to do"
    if [[ $(pg_running_port) != "$GOV_PG_PORT" ]]; then
      say "PostgreSQL: WARNING: it listens on port $(pg_running_port), not GOV_PG_PORT=$GOV_PG_PORT; run 'infra.sh stop' first to change the port"
    fi
    return 0
  fi
  pg_prereqs
  pg_setup_runner
  if port_open "$GOV_PG_PORT"; then
    die "port 127.0.0.1:$GOV_PG_PORT is already in use by another process; set GOV_PG_PORT to a free port"
  fi
  _pg_init_cluster
  _pg_wait_stale_postmaster
  _pg_write_local_conf
  mkdir -p "$GOV_LOG_DIR"
  touch "$PG_LOG"
  if [[ $PG_MODE == runuser ]]; then
    chown postgres: "$PG_LOG"
  fi

  say "PostgreSQL: starting on 127.0.0.1:$GOV_PG_PORT (mode: $PG_MODE, log: $PG_LOG)"
  # pg_ctl forks the postmaster into its own session (setsid) and returns once
  # postmaster.pid says "ready", so the server outlives this script. The lock
  # fd is closed so the server does not inherit it.
  if ! pg_as_owner "$PG_BIN/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t 120 -s 9>&-; then
    show_log_tail "$PG_LOG"
    die "PostgreSQL did not start"
  fi

  # Independent readiness check over TCP, as the services will connect.
  local deadline=$((SECONDS + 60))
  until "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$GOV_PG_PORT" -U "$PG_SUPERUSER" -d postgres -t 2 &&
      pg_psql -d postgres -tA -c 'select 1' >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      show_log_tail "$PG_LOG"
      die "PostgreSQL started but does not answer on 127.0.0.1:$GOV_PG_PORT"
    fi
    sleep 0.5
  done
  pg_ensure_databases
  say "PostgreSQL: ready (pid $(pg_pid || echo '?'), databases: ${GOV_DATABASES[*]})"
}

pg_stop() {
  local pid
  if pg_is_external; then
    say "PostgreSQL: external server, not stopping it"
    return 0
  fi
  if ! pid=$(pg_pid); then
    say "PostgreSQL: not running"
    return 0
  fi
  pg_prereqs
  pg_setup_runner
  say "PostgreSQL: stopping (pid $pid)"
  # -m fast: roll back open sessions instead of waiting for clients to leave.
  if ! pg_as_owner "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 60 -s 9>&-; then
    show_log_tail "$PG_LOG"
    die "PostgreSQL (pid $pid) did not stop within 60 s"
  fi
  say "PostgreSQL: stopped"
}

pg_status() {
  local pid
  if pg_is_external; then
    echo "postgres: external (PETITIONS_/TARGETS_/NOTIFIER_DATABASE_URL set)"
    return 0
  fi
  if pid=$(pg_pid); then
    echo "postgres: running  pid $pid  127.0.0.1:$(pg_running_port)  data $PG_DATA"
    return 0
  fi
  echo "postgres: stopped  (data $PG_DATA)"
  return 1
}

pg_env_lines() {
  local db var url
  for db in "${GOV_DATABASES[@]}"; do
    var=${db^^}_DATABASE_URL
    url=${!var:-postgresql+asyncpg://$PG_SUPERUSER@127.0.0.1:$GOV_PG_PORT/$db}
    printf 'export %s=%s\n' "$var" "$(sh_quote "$url")"
  done
}
