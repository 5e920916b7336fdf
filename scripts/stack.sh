#!/usr/bin/env bash
# Runs the services Consumers needs — PostgreSQL 15 and RabbitMQ with management — on this
# machine, without Docker, on the project's own loopback ports, with all their state in one
# folder (CONSUMERS_STACK_DIR, default /tmp/consumers-stack). See `scripts/stack.sh help`.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Service users must reach every folder we hand them; the checkout (and the caller's working
# folder) may not be readable by them, so work from / and use absolute paths only.
cd /

STACK_DIR="${CONSUMERS_STACK_DIR%/}"
STACK_MARK="$STACK_DIR/.consumers-stack"
LOCK_FILE="$STACK_DIR.lock"

PG_DIR="$STACK_DIR/postgresql"
PGDATA="$PG_DIR/data"
PG_SOCK_DIR="$PG_DIR/run"
PG_LOG_DIR="$PG_DIR/log"
PG_LOG="$PG_LOG_DIR/postgresql.log"

RB_DIR="$STACK_DIR/rabbitmq"
RB_HOME="$RB_DIR/home"
RB_ETC="$RB_DIR/etc"
RB_MNESIA="$RB_DIR/mnesia"
RB_LOG_DIR="$RB_DIR/log"
RB_LOG="$RB_LOG_DIR/rabbitmq.log"
RB_STARTUP_LOG="$RB_LOG_DIR/startup.log"
RB_CONF="$RB_ETC/rabbitmq.conf"
RB_PLUGINS="$RB_ETC/enabled_plugins"
RB_PID_FILE="$RB_DIR/rabbitmq.pid"

PG_HOST=127.0.0.1
RB_HOST=127.0.0.1
MGMT_URL="http://$RB_HOST:$CONSUMERS_RABBIT_MGMT_PORT"

START_TIMEOUT="${CONSUMERS_START_TIMEOUT:-180}"

usage() {
  cat <<EOF
usage: scripts/stack.sh <command>

Runs PostgreSQL 15 and RabbitMQ (with management) for Consumers on 127.0.0.1,
with all state in $STACK_DIR (CONSUMERS_STACK_DIR).

commands:
  up       install what is missing, start both services (reusing running ones), wait until
           they accept connections, create users and database, print the settings
  down     stop both services cleanly; data is kept
  reset    down, then delete $STACK_DIR
  status   show each service as running/stopped with pid and port
  env      print 'export' lines for eval:  eval "\$(scripts/stack.sh env)"
  logs     show the last lines of both logs; 'logs -f' follows them
  broker-stop   stop the RabbitMQ application (the node stays up): a broker outage, for tests
  broker-start  start it again and wait until it accepts connections
  cluster-up|cluster-down|cluster-status
           a separate local RabbitMQ cluster of 3 nodes (own ports, folder and epmd; the stack's
           node is not touched): scripts/rabbit-cluster.sh up|down|status, see its 'help'
  ctl ...  run rabbitmqctl against the stack's node, e.g. 'scripts/stack.sh ctl list_queues'
  psql ... run psql against the stack's database as user $CONSUMERS_DB_USER
  help     this text

ports (override with the variables in brackets):
  PostgreSQL        $PG_HOST:$CONSUMERS_PG_PORT   [CONSUMERS_PG_PORT]
  RabbitMQ AMQP     $RB_HOST:$CONSUMERS_RABBIT_PORT   [CONSUMERS_RABBIT_PORT]
  RabbitMQ HTTP     $RB_HOST:$CONSUMERS_RABBIT_MGMT_PORT   [CONSUMERS_RABBIT_MGMT_PORT]
  Erlang dist       $RABBITMQ_DIST_PORT, epmd $ERL_EPMD_PORT   [RABBITMQ_DIST_PORT, ERL_EPMD_PORT]
  RabbitMQ node     $CONSUMERS_RABBIT_NODE   [CONSUMERS_RABBIT_NODE]

exit codes: 0 ok; 1 failure; 2 usage error; 3 'status' found a service not running;
            4 a service did not come up in time (CONSUMERS_START_TIMEOUT, ${START_TIMEOUT}s)
EOF
}

# ---- common -----------------------------------------------------------------------------------

as_pg() { runuser -u postgres -- "$@"; }

# rabbitmq's own scripts, run as user rabbitmq with an environment that points every file at
# the stack folder. The Debian wrappers in /usr/sbin are bypassed: they reset HOME (and with it
# the Erlang cookie) and send output to /var/log/rabbitmq.
rb_env() {
  local ctl_port_min=$(( RABBITMQ_DIST_PORT + 10000 ))
  printf '%s\n' \
    "HOME=$RB_HOME" \
    "LANG=C.UTF-8" "LC_ALL=C.UTF-8" \
    "RABBITMQ_NODENAME=$CONSUMERS_RABBIT_NODE" \
    "RABBITMQ_USE_LONGNAME=false" \
    "RABBITMQ_CONF_ENV_FILE=$RB_ETC/rabbitmq-env.conf" \
    "RABBITMQ_CONFIG_FILE=$RB_CONF" \
    "RABBITMQ_ADVANCED_CONFIG_FILE=$RB_ETC/advanced.config" \
    "RABBITMQ_MNESIA_BASE=$RB_MNESIA" \
    "RABBITMQ_LOG_BASE=$RB_LOG_DIR" \
    "RABBITMQ_ENABLED_PLUGINS_FILE=$RB_PLUGINS" \
    "RABBITMQ_PID_FILE=$RB_PID_FILE" \
    "RABBITMQ_DIST_PORT=$RABBITMQ_DIST_PORT" \
    "RABBITMQ_CTL_DIST_PORT_MIN=$ctl_port_min" \
    "RABBITMQ_CTL_DIST_PORT_MAX=$(( ctl_port_min + 10 ))" \
    "ERL_EPMD_PORT=$ERL_EPMD_PORT" \
    "ERL_EPMD_ADDRESS=127.0.0.1" \
    "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}" \
    "RABBITMQ_CTL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}"
}
as_rb() {
  local -a envs
  mapfile -t envs < <(rb_env)
  runuser -u rabbitmq -- env "${envs[@]}" "$@"
}
rbctl() { as_rb "$RABBIT_BIN/rabbitmqctl" -n "$CONSUMERS_RABBIT_NODE" "$@"; }

take_lock() {
  mkdir -p "$(dirname "$LOCK_FILE")"
  exec 9>"$LOCK_FILE"
  if ! flock -n 9; then
    info "another scripts/stack.sh is working on $STACK_DIR; waiting for it"
    flock -w 600 9 || die "timed out waiting for the lock $LOCK_FILE"
  fi
}

ensure_users_exist() {
  id postgres >/dev/null 2>&1 || die "system user 'postgres' is missing (run scripts/install-deps.sh)"
  id rabbitmq >/dev/null 2>&1 || die "system user 'rabbitmq' is missing (run scripts/install-deps.sh)"
}

# Create (or repair) the folder layout with the owners and modes each service needs.
prepare_dirs() {
  ensure_users_exist
  mkdir -p "$STACK_DIR"
  chmod 755 "$STACK_DIR"
  touch "$STACK_MARK"

  mkdir -p "$PG_DIR" "$PG_SOCK_DIR" "$PG_LOG_DIR"
  chown postgres:postgres "$PG_DIR" "$PG_SOCK_DIR" "$PG_LOG_DIR"
  chmod 755 "$PG_DIR" "$PG_SOCK_DIR"
  chmod 750 "$PG_LOG_DIR"

  mkdir -p "$RB_DIR" "$RB_HOME" "$RB_ETC" "$RB_MNESIA" "$RB_LOG_DIR"
  chown rabbitmq:rabbitmq "$RB_DIR" "$RB_HOME" "$RB_ETC" "$RB_MNESIA" "$RB_LOG_DIR"
  chmod 755 "$RB_DIR"
  chmod 750 "$RB_HOME" "$RB_ETC" "$RB_MNESIA" "$RB_LOG_DIR"

  if ! runuser -u postgres -- test -w "$PG_DIR" || ! runuser -u rabbitmq -- test -w "$RB_DIR"; then
    die "the postgres/rabbitmq users cannot reach $STACK_DIR (is a parent folder unreadable?); set CONSUMERS_STACK_DIR to a folder under /tmp"
  fi
}

# ---- PostgreSQL ---------------------------------------------------------------------------------

# shellcheck disable=SC2015  # "|| true": a missing file yields an empty answer
pg_pid() { [[ -f "$PGDATA/postmaster.pid" ]] && head -n 1 "$PGDATA/postmaster.pid" 2>/dev/null || true; }
# shellcheck disable=SC2015
pg_running_port() { [[ -f "$PGDATA/postmaster.pid" ]] && sed -n 4p "$PGDATA/postmaster.pid" 2>/dev/null || true; }

pg_is_running() {
  [[ -f "$PGDATA/PG_VERSION" ]] || return 1
  local pid; pid="$(pg_pid)"
  pid_alive "$pid" || return 1
  [[ "$(pid_cmdline "$pid")" == *postgres* ]]
}

pg_initdb() {
  info "postgresql: initialising a new cluster in $PGDATA"
  rm -rf "$PGDATA"
  # Local (unix socket) connections: peer, so the postgres OS user administers the cluster.
  # TCP on 127.0.0.1: scram-sha-256 passwords.
  if ! as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres -E UTF8 --locale=C \
        --auth-local=peer --auth-host=scram-sha-256 >"$PG_LOG_DIR/initdb.log" 2>&1; then
    show_log_tail "$PG_LOG_DIR/initdb.log" 40
    die "postgresql: initdb failed"
  fi
  printf "\n# Settings of the Consumers stack (rewritten by scripts/stack.sh on every 'up').\ninclude_if_exists = 'consumers.conf'\n" \
    >> "$PGDATA/postgresql.conf"
}

# initdb finished: our include line is appended only after it succeeded.
pg_initialized() {
  [[ -f "$PGDATA/PG_VERSION" && -f "$PGDATA/global/pg_control" ]] &&
    grep -q "^include_if_exists = 'consumers.conf'" "$PGDATA/postgresql.conf" 2>/dev/null
}

pg_write_conf() {
  local conf="$PGDATA/consumers.conf"
  cat > "$conf" <<EOF
# Written by scripts/stack.sh: changes here are overwritten on the next 'up'.
listen_addresses = '127.0.0.1'
port = $CONSUMERS_PG_PORT
unix_socket_directories = '$PG_SOCK_DIR'
max_connections = 300
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
password_encryption = 'scram-sha-256'
# durability stays at the defaults (fsync, synchronous_commit, full_page_writes on)
logging_collector = off
log_destination = 'stderr'
log_line_prefix = '%m [%p] %q%u@%d '
log_min_messages = warning
log_connections = off
EOF
  chown postgres:postgres "$conf"
  chmod 600 "$conf"
}

pg_start() {
  if pg_is_running; then
    local port; port="$(pg_running_port)"
    if [[ -n "$port" && "$port" != "$CONSUMERS_PG_PORT" ]]; then
      die "postgresql is already running from $PGDATA on port $port, not $CONSUMERS_PG_PORT; run 'scripts/stack.sh down' first"
    fi
    ok "postgresql: already running (pid $(pg_pid), port $CONSUMERS_PG_PORT) — reusing it"
    return 0
  fi
  # A folder left by an interrupted initdb is rebuilt from scratch.
  if ! pg_initialized; then
    pg_initdb
  fi
  pg_write_conf
  # Stale lock files from a crash (pid gone, or pid reused by something that is not postgres).
  if [[ -f "$PGDATA/postmaster.pid" ]]; then
    warn "postgresql: removing stale postmaster.pid (pid $(pg_pid) is not a running postgres)"
    rm -f "$PGDATA/postmaster.pid"
  fi
  rm -f "$PG_SOCK_DIR/.s.PGSQL.$CONSUMERS_PG_PORT" "$PG_SOCK_DIR/.s.PGSQL.$CONSUMERS_PG_PORT.lock"
  if "$PG_BIN/pg_isready" -q -h "$PG_HOST" -p "$CONSUMERS_PG_PORT" -t 1 >/dev/null 2>&1; then
    die "postgresql: port $CONSUMERS_PG_PORT is already served by another PostgreSQL; stop it or set CONSUMERS_PG_PORT"
  fi
  info "postgresql: starting on $PG_HOST:$CONSUMERS_PG_PORT (log: $PG_LOG)"
  touch "$PG_LOG"; chown postgres:postgres "$PG_LOG"
  # 9>&-: the server must not inherit (and hold for ever) the lock of this script.
  if ! as_pg "$PG_BIN/pg_ctl" start -D "$PGDATA" -l "$PG_LOG" -w -t "$START_TIMEOUT" -s \
        >/dev/null 2>"$PG_LOG_DIR/pg_ctl.log" 9>&-; then
    show_log_tail "$PG_LOG_DIR/pg_ctl.log" 20
    show_log_tail "$PG_LOG" 40
    die 4 "postgresql: failed to start"
  fi
}

pg_wait() {
  local deadline=$(( SECONDS + START_TIMEOUT ))
  until "$PG_BIN/pg_isready" -q -h "$PG_HOST" -p "$CONSUMERS_PG_PORT" -t 2 >/dev/null 2>&1; do
    if (( SECONDS >= deadline )); then
      show_log_tail "$PG_LOG" 40
      die 4 "postgresql: not accepting connections on $PG_HOST:$CONSUMERS_PG_PORT after ${START_TIMEOUT}s"
    fi
    pg_is_running || { show_log_tail "$PG_LOG" 40; die 4 "postgresql: the server exited during startup"; }
    sleep 1
  done
}

pg_sql() { PGOPTIONS="-c client_min_messages=warning" as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK_DIR" -p "$CONSUMERS_PG_PORT" -U postgres "$@"; }

pg_provision() {
  local user="$CONSUMERS_DB_USER" pass="$CONSUMERS_DB_PASSWORD" db="$CONSUMERS_DB_NAME"
  # Superuser: the test suite creates and drops its own databases.
  pg_sql -d postgres -v u="$user" -v p="$pass" -v d="$db" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN SUPERUSER PASSWORD %L', :'u', :'p')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'u') \gexec
SELECT format('ALTER ROLE %I LOGIN SUPERUSER PASSWORD %L', :'u', :'p') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'d', :'u')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'d') \gexec
SQL
  pg_sql -d "$db" -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' >/dev/null
  # Prove the TCP login the tools will use.
  if ! PGPASSWORD="$pass" "$PG_BIN/psql" -X -q -h "$PG_HOST" -p "$CONSUMERS_PG_PORT" -U "$user" -d "$db" \
        -tAc 'SELECT 1' >/dev/null 2>&1; then
    die "postgresql: cannot log in as $user over TCP on $PG_HOST:$CONSUMERS_PG_PORT"
  fi
  ok "postgresql: ready — database '$db', user '$user'"
}

pg_stop() {
  if ! pg_is_running; then
    info "postgresql: not running"
    return 0
  fi
  info "postgresql: stopping (pid $(pg_pid))"
  if ! as_pg "$PG_BIN/pg_ctl" stop -D "$PGDATA" -m fast -w -t 60 -s >/dev/null 2>&1; then
    warn "postgresql: fast shutdown did not finish; trying immediate"
    as_pg "$PG_BIN/pg_ctl" stop -D "$PGDATA" -m immediate -w -t 30 -s >/dev/null 2>&1 || die "postgresql: could not stop"
  fi
  ok "postgresql: stopped"
}

# ---- RabbitMQ -----------------------------------------------------------------------------------

# shellcheck disable=SC2015
rb_pid() { [[ -f "$RB_PID_FILE" ]] && tr -dc '0-9' < "$RB_PID_FILE" 2>/dev/null || true; }

# The node's Erlang VM is alive (it may still be booting).
rb_process_alive() {
  local pid; pid="$(rb_pid)"
  pid_alive "$pid" || return 1
  local cmd; cmd="$(pid_cmdline "$pid")"
  # 3.10 names the node at run time, so identify our VM by its -home (the stack folder).
  [[ "$cmd" == *beam* && "$cmd" == *" $RB_HOME "* ]]
}

# The node answers the CLI.
rb_responds() { rbctl -q ping --timeout 10 >/dev/null 2>&1; }

# Files the node reads at boot; the .conf comes from compose/rabbitmq/rabbitmq.conf.
rb_write_conf() {
  local tmpl="$REPO_ROOT/compose/rabbitmq/rabbitmq.conf"
  [[ -f "$tmpl" ]] || die "missing $tmpl"
  {
    echo "# Rendered by scripts/stack.sh from compose/rabbitmq/rabbitmq.conf; rewritten on every 'up'."
    sed -E \
      -e "s|^([[:space:]]*listeners\.tcp\.default[[:space:]]*=).*|\1 127.0.0.1:$CONSUMERS_RABBIT_PORT|" \
      -e "s|^([[:space:]]*management\.tcp\.port[[:space:]]*=).*|\1 $CONSUMERS_RABBIT_MGMT_PORT|" \
      -e "s|^([[:space:]]*management\.tcp\.ip[[:space:]]*=).*|\1 127.0.0.1|" \
      -e "s|^([[:space:]]*prometheus\.tcp\.port[[:space:]]*=).*|\1 $CONSUMERS_RABBIT_METRICS_PORT|" \
      -e "s|^([[:space:]]*prometheus\.tcp\.ip[[:space:]]*=).*|\1 127.0.0.1|" \
      "$tmpl"
  } > "$RB_CONF"
  grep -q '^consumer_timeout' "$RB_CONF" || die "consumer_timeout missing from $tmpl"
  echo "# Intentionally empty: keeps /etc/rabbitmq/rabbitmq-env.conf out of this node." > "$RB_ETC/rabbitmq-env.conf"
  chown rabbitmq:rabbitmq "$RB_CONF" "$RB_ETC/rabbitmq-env.conf"
  chmod 640 "$RB_CONF" "$RB_ETC/rabbitmq-env.conf"

  # Erlang cookie shared by the server and our CLI calls (both run with HOME=$RB_HOME). It is a
  # copy of the system rabbitmq user's cookie when there is one, so the plain Debian wrapper
  # works too:  ERL_EPMD_PORT=$ERL_EPMD_PORT rabbitmqctl -n $CONSUMERS_RABBIT_NODE status
  local cookie="$RB_HOME/.erlang.cookie"
  if [[ ! -s "$cookie" ]]; then
    if [[ -s /var/lib/rabbitmq/.erlang.cookie ]]; then
      cp /var/lib/rabbitmq/.erlang.cookie "$cookie"
    else
      od -An -N20 -tu1 /dev/urandom | awk '{ for (i = 1; i <= NF; i++) printf "%c", 65 + $i % 26 }' > "$cookie"
    fi
  fi
  chown rabbitmq:rabbitmq "$cookie"
  chmod 400 "$cookie"

  # Plugins: start from the shipped list, then let rabbitmq-plugins validate/enable offline.
  if [[ ! -s "$RB_PLUGINS" ]]; then
    cp "$REPO_ROOT/compose/rabbitmq/enabled_plugins" "$RB_PLUGINS"
    chown rabbitmq:rabbitmq "$RB_PLUGINS"
    chmod 640 "$RB_PLUGINS"
  fi
  if ! as_rb "$RABBIT_BIN/rabbitmq-plugins" -n "$CONSUMERS_RABBIT_NODE" enable --offline rabbitmq_management rabbitmq_prometheus \
        >"$RB_LOG_DIR/plugins.log" 2>&1; then
    show_log_tail "$RB_LOG_DIR/plugins.log" 30
    die "rabbitmq: could not enable the management and prometheus plugins"
  fi
}

rb_start() {
  if rb_process_alive; then
    ok "rabbitmq: already running (pid $(rb_pid), node $CONSUMERS_RABBIT_NODE) — reusing it"
    return 0
  fi
  if [[ -f "$RB_PID_FILE" ]]; then
    warn "rabbitmq: removing stale pid file (pid $(rb_pid) is not running)"
    rm -f "$RB_PID_FILE"
  fi
  if curl -s -o /dev/null --max-time 2 "$MGMT_URL/" 2>/dev/null; then
    die "rabbitmq: port $CONSUMERS_RABBIT_MGMT_PORT is already in use by something else; stop it or set CONSUMERS_RABBIT_MGMT_PORT"
  fi
  rb_write_conf
  info "rabbitmq: starting node $CONSUMERS_RABBIT_NODE on $RB_HOST:$CONSUMERS_RABBIT_PORT (log: $RB_LOG)"
  touch "$RB_STARTUP_LOG"; chown rabbitmq:rabbitmq "$RB_STARTUP_LOG"
  # New session, no terminal: the node outlives this script and ignores the caller's Ctrl-C.
  local -a envs
  mapfile -t envs < <(rb_env)
  setsid runuser -u rabbitmq -- env "${envs[@]}" "$RABBIT_BIN/rabbitmq-server" \
    >"$RB_STARTUP_LOG" 2>&1 </dev/null 9>&- &
  RB_LAUNCHER_PID=$!
  disown "$RB_LAUNCHER_PID" 2>/dev/null || true
}

rb_wait() {
  local deadline=$(( SECONDS + START_TIMEOUT ))
  # The pid file appears once the VM runs; await_startup then waits for the rabbit application.
  until [[ -s "$RB_PID_FILE" ]] && rb_process_alive; do
    if (( SECONDS >= deadline )); then
      show_log_tail "$RB_STARTUP_LOG" 40; die 4 "rabbitmq: the node did not start within ${START_TIMEOUT}s"
    fi
    if [[ -n "${RB_LAUNCHER_PID:-}" ]] && ! pid_alive "$RB_LAUNCHER_PID"; then
      show_log_tail "$RB_STARTUP_LOG" 40; show_log_tail "$RB_LOG" 40; die 4 "rabbitmq: the node exited during startup"
    fi
    sleep 1
  done
  local remaining
  until remaining=$(( deadline - SECONDS )); (( remaining > 0 )) && \
        rbctl -q await_startup --timeout "$remaining" >/dev/null 2>>"$RB_LOG_DIR/ctl.log"; do
    if (( SECONDS >= deadline )); then
      show_log_tail "$RB_LOG" 40; die 4 "rabbitmq: the node did not finish booting within ${START_TIMEOUT}s"
    fi
    if ! rb_process_alive; then
      show_log_tail "$RB_STARTUP_LOG" 40; show_log_tail "$RB_LOG" 40; die 4 "rabbitmq: the node exited during startup"
    fi
    sleep 2
  done
}

rb_provision() {
  local user="$CONSUMERS_RABBIT_USER" pass="$CONSUMERS_RABBIT_PASS" out
  if ! rbctl -q authenticate_user "$user" "$pass" >/dev/null 2>&1; then
    if ! out="$(rbctl -q add_user "$user" "$pass" 2>&1)"; then
      # It exists with another password: set ours.
      out="$(rbctl -q change_password "$user" "$pass" 2>&1)" || { printf '%s\n' "$out" >&2; die "rabbitmq: cannot create user $user"; }
    fi
  fi
  rbctl -q set_user_tags "$user" administrator >/dev/null
  rbctl -q set_permissions -p / "$user" '.*' '.*' '.*' >/dev/null

  # The management API must answer before anyone is told the stack is up.
  local deadline=$(( SECONDS + START_TIMEOUT )) code=
  until code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -u "$user:$pass" "$MGMT_URL/api/overview" 2>/dev/null)" \
        && [[ "$code" == 200 ]]; do
    if (( SECONDS >= deadline )); then
      show_log_tail "$RB_LOG" 40; die 4 "rabbitmq: management API $MGMT_URL/api/overview did not answer 200 (last: ${code:-none})"
    fi
    sleep 1
  done
  ok "rabbitmq: ready — user '$user' (administrator) on vhost '/', management $MGMT_URL"
}

rb_stop() {
  local pid; pid="$(rb_pid)"
  if ! rb_process_alive; then
    info "rabbitmq: not running"
    rm -f "$RB_PID_FILE"
  else
    info "rabbitmq: stopping node $CONSUMERS_RABBIT_NODE (pid $pid)"
    # With the pid file given, 'stop' returns once the VM process has exited. A node that does
    # not answer a ping (hung, or still booting) would make it wait for ever: signal it instead.
    local -a envs
    mapfile -t envs < <(rb_env)
    if ! rb_responds || ! timeout 120 runuser -u rabbitmq -- env "${envs[@]}" \
          "$RABBIT_BIN/rabbitmqctl" -n "$CONSUMERS_RABBIT_NODE" -q stop "$RB_PID_FILE" \
          >/dev/null 2>>"$RB_LOG_DIR/ctl.log"; then
      warn "rabbitmq: the node did not stop through rabbitmqctl; sending SIGTERM to pid $pid"
      kill -CONT "$pid" 2>/dev/null || true
      kill -TERM "$pid" 2>/dev/null || true
      local _
      for _ in $(seq 1 30); do pid_alive "$pid" || break; sleep 1; done
      if pid_alive "$pid"; then
        warn "rabbitmq: pid $pid still alive; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        for _ in $(seq 1 10); do pid_alive "$pid" || break; sleep 1; done
      fi
    fi
    rm -f "$RB_PID_FILE"
    ok "rabbitmq: stopped"
  fi
  # Our own epmd (port $ERL_EPMD_PORT) goes too, once no node is registered with it.
  as_rb epmd -port "$ERL_EPMD_PORT" -kill >/dev/null 2>&1 || true
}

# ---- verbs --------------------------------------------------------------------------------------

print_env() {
  cat <<EOF
export CONSUMERS_STACK_DIR="$STACK_DIR"
export CONSUMERS_DB="Host=$PG_HOST;Port=$CONSUMERS_PG_PORT;Database=$CONSUMERS_DB_NAME;Username=$CONSUMERS_DB_USER;Password=$CONSUMERS_DB_PASSWORD"
export CONSUMERS_DB_ADMIN="Host=$PG_HOST;Port=$CONSUMERS_PG_PORT;Database=postgres;Username=$CONSUMERS_DB_USER;Password=$CONSUMERS_DB_PASSWORD"
export CONSUMERS_PG_HOST="$PG_HOST"
export CONSUMERS_PG_PORT="$CONSUMERS_PG_PORT"
export CONSUMERS_DB_USER="$CONSUMERS_DB_USER"
export CONSUMERS_DB_PASSWORD="$CONSUMERS_DB_PASSWORD"
export CONSUMERS_RABBIT_HOST="$RB_HOST"
export CONSUMERS_RABBIT_PORT="$CONSUMERS_RABBIT_PORT"
export CONSUMERS_RABBIT_USER="$CONSUMERS_RABBIT_USER"
export CONSUMERS_RABBIT_PASS="$CONSUMERS_RABBIT_PASS"
export CONSUMERS_RABBIT_VHOST="/"
export CONSUMERS_RABBIT_MGMT="$MGMT_URL"
export CONSUMERS_RABBIT_METRICS="http://$RB_HOST:$CONSUMERS_RABBIT_METRICS_PORT/metrics"
EOF
}

cmd_up() {
  require_root
  if [[ "${CONSUMERS_SKIP_INSTALL:-0}" != 1 ]]; then
    CONSUMERS_LOG_TAG=install-deps bash "$REPO_ROOT/scripts/install-deps.sh" || die "installing dependencies failed"
  fi
  take_lock
  prepare_dirs
  reserve_ports "$CONSUMERS_PG_PORT" "$CONSUMERS_RABBIT_PORT" "$CONSUMERS_RABBIT_MGMT_PORT" "$RABBITMQ_DIST_PORT" \
    "$CONSUMERS_RABBIT_METRICS_PORT" "$ERL_EPMD_PORT" "$(( RABBITMQ_DIST_PORT + 10000 ))-$(( RABBITMQ_DIST_PORT + 10010 ))"
  pg_start
  rb_start
  pg_wait
  pg_provision
  rb_wait
  rb_provision
  ok "stack is up (state in $STACK_DIR)"
  info "RabbitMQ management UI: $MGMT_URL  (login $CONSUMERS_RABBIT_USER / $CONSUMERS_RABBIT_PASS)"
  info "PostgreSQL: psql 'postgresql://$CONSUMERS_DB_USER:$CONSUMERS_DB_PASSWORD@$PG_HOST:$CONSUMERS_PG_PORT/$CONSUMERS_DB_NAME'"
  info "settings for other tools (also: eval \"\$(scripts/stack.sh env)\"):"
  print_env
}

cmd_down() {
  require_root
  [[ -d "$STACK_DIR" ]] || { info "nothing to stop: $STACK_DIR does not exist"; return 0; }
  take_lock
  rb_stop
  pg_stop
}

cmd_reset() {
  require_root
  cmd_down
  if [[ -d "$STACK_DIR" ]]; then
    case "$STACK_DIR" in
      ""|/|/tmp|/var|/var/tmp|/home|/root|/usr|/etc) die "refusing to delete '$STACK_DIR'";;
    esac
    if [[ ! -e "$STACK_MARK" && -n "$(ls -A "$STACK_DIR" 2>/dev/null)" ]]; then
      die "refusing to delete $STACK_DIR: it is not empty and has no $STACK_MARK marker"
    fi
    rm -rf "$STACK_DIR"
    ok "deleted $STACK_DIR"
  fi
  rm -f "$LOCK_FILE"
}

cmd_status() {
  local rc=0 pid
  if pg_is_running; then
    pid="$(pg_pid)"
    if "$PG_BIN/pg_isready" -q -h "$PG_HOST" -p "$CONSUMERS_PG_PORT" -t 3 >/dev/null 2>&1; then
      echo "postgresql: running  pid $pid  port $PG_HOST:$(pg_running_port)  data $PGDATA"
    else
      echo "postgresql: starting/not ready  pid $pid  port $PG_HOST:$CONSUMERS_PG_PORT"; rc=3
    fi
  else
    echo "postgresql: stopped  port $PG_HOST:$CONSUMERS_PG_PORT"; rc=3
  fi
  if rb_process_alive; then
    pid="$(rb_pid)"
    if rb_responds; then
      echo "rabbitmq:   running  pid $pid  port $RB_HOST:$CONSUMERS_RABBIT_PORT  management $MGMT_URL  node $CONSUMERS_RABBIT_NODE"
    else
      echo "rabbitmq:   not responding  pid $pid  port $RB_HOST:$CONSUMERS_RABBIT_PORT  node $CONSUMERS_RABBIT_NODE"; rc=3
    fi
  else
    echo "rabbitmq:   stopped  port $RB_HOST:$CONSUMERS_RABBIT_PORT  node $CONSUMERS_RABBIT_NODE"; rc=3
  fi
  return "$rc"
}

cmd_logs() {
  local follow=0 lines="${LOG_LINES:-50}"
  [[ "${1:-}" == "-f" || "${1:-}" == "--follow" ]] && follow=1
  local -a files=()
  [[ -f "$PG_LOG" ]] && files+=("$PG_LOG")
  [[ -f "$RB_LOG" ]] && files+=("$RB_LOG")
  [[ "${#files[@]}" -gt 0 ]] || die "no log files yet under $STACK_DIR"
  if [[ "$follow" -eq 1 ]]; then
    exec tail -n "$lines" -F "${files[@]}"
  else
    tail -n "$lines" "${files[@]}"
  fi
}

# A broker outage without losing the node: durable queues and their messages survive it.
cmd_broker_stop() {
  require_root
  rbctl -q stop_app >/dev/null
  echo "rabbitmq: application stopped (node $CONSUMERS_RABBIT_NODE still running)"
}

cmd_broker_start() {
  require_root
  rbctl -q start_app >/dev/null
  rbctl -q await_startup --timeout "$START_TIMEOUT" >/dev/null
  local deadline=$(( SECONDS + START_TIMEOUT ))
  until curl -fsS -o /dev/null -u "$CONSUMERS_RABBIT_USER:$CONSUMERS_RABBIT_PASS" "$MGMT_URL/api/overview" 2>/dev/null; do
    (( SECONDS < deadline )) || die 4 "rabbitmq: management API did not answer within ${START_TIMEOUT}s"
    sleep 0.5
  done
  echo "rabbitmq: application started"
}

main() {
  local verb="${1:-help}"
  [[ $# -gt 0 ]] && shift
  case "$verb" in
    up)     cmd_up ;;
    down)   cmd_down ;;
    reset)  cmd_reset ;;
    status) cmd_status ;;
    env)    print_env ;;
    logs)   cmd_logs "$@" ;;
    broker-stop)  cmd_broker_stop ;;
    broker-start) cmd_broker_start ;;
    cluster-up)     exec bash "$REPO_ROOT/scripts/rabbit-cluster.sh" up ;;
    cluster-down)   exec bash "$REPO_ROOT/scripts/rabbit-cluster.sh" down ;;
    cluster-status) exec bash "$REPO_ROOT/scripts/rabbit-cluster.sh" status ;;
    ctl)    require_root; rbctl "$@" ;;
    psql)   PGPASSWORD="$CONSUMERS_DB_PASSWORD" exec "$PG_BIN/psql" -h "$PG_HOST" -p "$CONSUMERS_PG_PORT" \
              -U "$CONSUMERS_DB_USER" -d "$CONSUMERS_DB_NAME" "$@" ;;
    help|-h|--help) usage ;;
    *) usage >&2; die 2 "unknown command '$verb'" ;;
  esac
}

main "$@"
