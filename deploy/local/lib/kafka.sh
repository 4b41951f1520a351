# shellcheck shell=bash
# Kafka part of infra.sh: a single KRaft node (broker + controller in one JVM)
# from jars that Maven resolves from Maven Central. Sourced after common.sh.

KAFKA_ROOT=$GOV_LOCAL_DIR/kafka
KAFKA_LIBS=$KAFKA_ROOT/libs
KAFKA_DATA=$KAFKA_ROOT/data
KAFKA_CONF=$KAFKA_ROOT/server.properties
KAFKA_ADMIN_CONF=$KAFKA_ROOT/admin.properties
KAFKA_LOG_DIR=$GOV_LOG_DIR/kafka
KAFKA_PID_FILE=$GOV_RUN_DIR/kafka.pid
KAFKA_POM=$GOV_SCRIPT_DIR/kafka/pom.xml
KAFKA_LOG4J=$GOV_SCRIPT_DIR/kafka/log4j2.xml
KAFKA_TOOLS_LOG4J=$GOV_SCRIPT_DIR/kafka/log4j2-tools.xml
KAFKA_START_TIMEOUT=${GOV_KAFKA_START_TIMEOUT:-90}
KAFKA_STOP_TIMEOUT=${GOV_KAFKA_STOP_TIMEOUT:-60}
# Word-split on purpose when used (a list of JVM flags).
KAFKA_HEAP_OPTS=${GOV_KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}

kafka_is_external() {
  [[ -n ${KAFKA_BOOTSTRAP_SERVERS:-} ]]
}

# --- prerequisites & jars ------------------------------------------------------

kafka_find_java() {
  if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then
    KAFKA_JAVA=$JAVA_HOME/bin/java
  elif command -v java >/dev/null 2>&1; then
    KAFKA_JAVA=$(command -v java)
  else
    die "java not found. Kafka 4.x needs Java 17 or newer: apt-get install openjdk-17-jre-headless
        (or set KAFKA_BOOTSTRAP_SERVERS to use an existing Kafka)."
  fi
  local version major
  version=$("$KAFKA_JAVA" -version 2>&1 | awk -F'"' '/version/ {print $2; exit}') || true
  major=${version%%.*}
  if [[ -z $version ]]; then
    die "$KAFKA_JAVA does not run ('java -version' failed). Kafka 4.x needs Java 17 or newer: apt-get install openjdk-17-jre-headless"
  fi
  if [[ ! $major =~ ^[0-9]+$ ]] || ((major < 17)); then
    die "$KAFKA_JAVA is Java '$version'; Kafka 4.x needs Java 17 or newer: apt-get install openjdk-17-jre-headless"
  fi
}

_kafka_pom_hash() {
  sha256sum "$KAFKA_POM" | cut -d' ' -f1
}

kafka_libs_ready() {
  [[ -f $KAFKA_LIBS/.pom.sha256 && $(<"$KAFKA_LIBS/.pom.sha256") == "$(_kafka_pom_hash)" ]] &&
    compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null
}

kafka_prereqs() {
  kafka_find_java
  if ! kafka_libs_ready && ! command -v mvn >/dev/null 2>&1; then
    die "mvn not found; it is needed once to fetch the Kafka jars from Maven Central: apt-get install maven
        (or set KAFKA_BOOTSTRAP_SERVERS to use an existing Kafka)."
  fi
}

# Resolve the jars listed in kafka/pom.xml into $KAFKA_LIBS. Maven's local
# repository (~/.m2/repository, or GOV_MAVEN_REPO) is the download cache; the
# hash stamp skips Maven entirely while the pom is unchanged.
kafka_resolve_libs() {
  if kafka_libs_ready; then
    return 0
  fi
  local build=$KAFKA_ROOT/build new=$KAFKA_ROOT/libs.new log=$GOV_LOG_DIR/maven.log
  local hash
  hash=$(_kafka_pom_hash)
  say "Kafka: resolving jars with Maven into $KAFKA_LIBS (cache: ${GOV_MAVEN_REPO:-~/.m2/repository}; the first run downloads ~40 MB)"
  # Run Maven on a copy so that nothing (target/, …) is written into the repo.
  rm -rf "$build" "$new"
  mkdir -p "$build" "$GOV_LOG_DIR"
  cp "$KAFKA_POM" "$build/pom.xml"
  local args=(-B -ntp -f "$build/pom.xml" dependency:copy-dependencies
    -DincludeScope=runtime -DoutputDirectory="$new")
  if [[ -n ${GOV_MAVEN_REPO:-} ]]; then
    args+=("-Dmaven.repo.local=$GOV_MAVEN_REPO")
  fi
  if ! mvn "${args[@]}" >"$log" 2>&1 9>&-; then
    show_log_tail "$log"
    die "Maven could not resolve the Kafka jars (needs access to Maven Central; full log: $log)"
  fi
  # Swap in the complete set only, so an interrupted run leaves no half set.
  printf '%s\n' "$hash" >"$new/.pom.sha256"
  rm -rf "$KAFKA_LIBS"
  mv "$new" "$KAFKA_LIBS"
}

# Run a Kafka CLI class with a small, fast-starting JVM.
kafka_tool() {
  "$KAFKA_JAVA" -Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$KAFKA_TOOLS_LOG4J" \
    -cp "$KAFKA_LIBS/*" "$@"
}

# --- config & storage -------------------------------------------------------------

_kafka_write_config() {
  mkdir -p "$KAFKA_ROOT"
  # Rewritten on every start so that port changes take effect. The quorum uses
  # the static `controller.quorum.voters` form: unlike a dynamic quorum
  # (format --standalone), it stores no controller address in the data dir,
  # so GOV_KAFKA_CONTROLLER_PORT can change between runs.
  cat >"$KAFKA_CONF" <<CONF
# Written by deploy/local/lib/kafka.sh on every start: edits are lost.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$GOV_KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$GOV_KAFKA_PORT,CONTROLLER://127.0.0.1:$GOV_KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$GOV_KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DATA
num.partitions=3
auto.create.topics.enable=true
# Single node: internal topics cannot have more than one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
# Consumers join a group at once instead of waiting 3 s for more members.
group.initial.rebalance.delay.ms=0
CONF
  # Short timeouts for the readiness probe (the defaults wait for minutes).
  cat >"$KAFKA_ADMIN_CONF" <<'CONF'
request.timeout.ms=5000
default.api.timeout.ms=10000
CONF
}

# Format the KRaft storage once (meta.properties marks a formatted dir).
_kafka_format_storage() {
  if [[ -f $KAFKA_DATA/meta.properties ]]; then
    return 0
  fi
  local log=$KAFKA_LOG_DIR/format.log cluster_id
  rm -rf "$KAFKA_DATA"
  mkdir -p "$KAFKA_LOG_DIR"
  if ! cluster_id=$(kafka_tool kafka.tools.StorageTool random-uuid 2>"$log" 9>&-); then
    show_log_tail "$log"
    die "Kafka: could not generate a cluster id"
  fi
  say "Kafka: formatting KRaft storage in $KAFKA_DATA (cluster id $cluster_id)"
  if ! kafka_tool kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_CONF" >>"$log" 2>&1 9>&-; then
    show_log_tail "$log"
    rm -rf "$KAFKA_DATA"
    die "Kafka: storage format failed (log: $log)"
  fi
}

# --- state -------------------------------------------------------------------------

# Pid of *our* broker, or nothing. The command line must still name our
# server.properties, so a recycled pid is never mistaken for the broker.
kafka_pid() {
  local pid
  [[ -f $KAFKA_PID_FILE ]] || return 1
  pid=$(<"$KAFKA_PID_FILE")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  pid_alive "$pid" || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF "$KAFKA_CONF" || return 1
  printf '%s\n' "$pid"
}

# A real metadata round trip (not just an open port).
# `timeout` cannot run the kafka_tool function, hence the spelled-out JVM.
kafka_answers() {
  port_open "$GOV_KAFKA_PORT" &&
    timeout 40 "$KAFKA_JAVA" -Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
      -Djava.awt.headless=true -Dlog4j2.configurationFile="$KAFKA_TOOLS_LOG4J" \
      -cp "$KAFKA_LIBS/*" org.apache.kafka.tools.TopicCommand \
      --bootstrap-server "127.0.0.1:$GOV_KAFKA_PORT" --command-config "$KAFKA_ADMIN_CONF" \
      --list >/dev/null 2>>"$KAFKA_LOG_DIR/readiness.log" 9>&-
}

_kafka_kill_and_wait() {
  local pid=$1 deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
  # SIGTERM runs Kafka's shutdown hook (controlled shutdown, clean log close).
  kill -TERM "$pid" 2>/dev/null || return 0
  while pid_alive "$pid"; do
    if ((SECONDS >= deadline)); then
      say "Kafka: pid $pid still alive after ${KAFKA_STOP_TIMEOUT}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 1
      break
    fi
    sleep 0.5
  done
}

# --- commands ----------------------------------------------------------------------

kafka_start() {
  local pid
  if kafka_is_external; then
    say "Kafka: external (KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS), not starting one"
    return 0
  fi
  if pid=$(kafka_pid); then
    say "Kafka: already running (pid $pid), nothing to do"
    return 0
  fi
  kafka_prereqs
  local port
  for port in "$GOV_KAFKA_PORT" "$GOV_KAFKA_CONTROLLER_PORT"; do
    if port_open "$port"; then
      die "port 127.0.0.1:$port is already in use by another process; set GOV_KAFKA_PORT / GOV_KAFKA_CONTROLLER_PORT to free ports"
    fi
  done
  kafka_resolve_libs
  _kafka_write_config
  mkdir -p "$KAFKA_LOG_DIR" "$GOV_RUN_DIR"
  _kafka_format_storage

  say "Kafka: starting on 127.0.0.1:$GOV_KAFKA_PORT (controller :$GOV_KAFKA_CONTROLLER_PORT, logs: $KAFKA_LOG_DIR)"
  rm -f "$KAFKA_PID_FILE"
  local -a heap
  read -r -a heap <<<"$KAFKA_HEAP_OPTS"
  # setsid: own session, so the broker survives this script and a Ctrl-C in
  # the calling terminal. The inner shell writes its own pid, then execs java
  # (same pid), whether or not setsid had to fork.
  # shellcheck disable=SC2016  # $$ and $@ are for the inner shell
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' kafka-launcher "$KAFKA_PID_FILE" \
    "$KAFKA_JAVA" "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true -Dkafka.logs.dir="$KAFKA_LOG_DIR" \
    -Dlog4j2.configurationFile="$KAFKA_LOG4J" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_CONF" \
    </dev/null >>"$KAFKA_LOG_DIR/stdout.log" 2>&1 9>&- &

  # The launcher writes the pid file right away; a missing file after 10 s
  # means it could not even start.
  local deadline=$((SECONDS + 10))
  until [[ -s $KAFKA_PID_FILE ]] || ((SECONDS >= deadline)); do
    sleep 0.2
  done
  deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  : >"$KAFKA_LOG_DIR/readiness.log"
  while :; do
    if ! pid=$(kafka_pid); then
      show_log_tail "$KAFKA_LOG_DIR/stdout.log" 20
      show_log_tail "$KAFKA_LOG_DIR/server.log"
      die "Kafka exited during startup"
    fi
    if kafka_answers; then
      break
    fi
    if ((SECONDS >= deadline)); then
      show_log_tail "$KAFKA_LOG_DIR/server.log"
      show_log_tail "$KAFKA_LOG_DIR/readiness.log" 10
      say "Kafka: not ready after ${KAFKA_START_TIMEOUT}s (GOV_KAFKA_START_TIMEOUT); stopping it"
      _kafka_kill_and_wait "$pid"
      rm -f "$KAFKA_PID_FILE"
      die "Kafka did not become ready"
    fi
    sleep 1
  done
  say "Kafka: ready (pid $pid, bootstrap 127.0.0.1:$GOV_KAFKA_PORT)"
}

kafka_stop() {
  local pid
  if kafka_is_external; then
    say "Kafka: external (KAFKA_BOOTSTRAP_SERVERS set), not stopping it"
    return 0
  fi
  if ! pid=$(kafka_pid); then
    rm -f "$KAFKA_PID_FILE"
    say "Kafka: not running"
    return 0
  fi
  say "Kafka: stopping (pid $pid)"
  _kafka_kill_and_wait "$pid"
  rm -f "$KAFKA_PID_FILE"
  say "Kafka: stopped"
}

kafka_status() {
  local pid
  if kafka_is_external; then
    echo "kafka:    external (KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS)"
    return 0
  fi
  if pid=$(kafka_pid); then
    local listener
    listener=$(sed -n 's|^advertised.listeners=PLAINTEXT://||p' "$KAFKA_CONF" 2>/dev/null)
    echo "kafka:    running  pid $pid  ${listener:-?}  data $KAFKA_DATA"
    return 0
  fi
  echo "kafka:    stopped  (data $KAFKA_DATA)"
  return 1
}

kafka_env_lines() {
  printf 'export KAFKA_BOOTSTRAP_SERVERS=%s\n' \
    "$(sh_quote "${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$GOV_KAFKA_PORT}")"
}
