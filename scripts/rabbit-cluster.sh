#!/usr/bin/env bash
# A local RabbitMQ cluster of several nodes on this machine, with quorum queues in mind: for the
# broker-node-loss fault test and for an operator who wants to try the worker's cluster settings.
# It is separate from the shared stack (scripts/stack.sh): its own node names, ports, epmd, Erlang
# cookie and folder (CONSUMERS_CLUSTER_DIR), so starting, killing or removing it never touches the
# stack's node. See `scripts/rabbit-cluster.sh help`.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The rabbitmq user must reach every folder we hand it; work from / with absolute paths only.
cd /

CL_DIR="${CONSUMERS_CLUSTER_DIR:-/tmp/consumers-cluster}"
CL_DIR="${CL_DIR%/}"
CL_SIZE="${CONSUMERS_CLUSTER_NODES:-3}"
# Node i (1-based) listens on base + i - 1. Defaults stay clear of the shared stack's ports
# (AMQP 56729, management 15729, dist 25729, epmd 44369).
CL_AMQP_BASE="${CONSUMERS_CLUSTER_AMQP_PORT:-56741}"
CL_MGMT_BASE="${CONSUMERS_CLUSTER_MGMT_PORT:-15741}"
CL_DIST_BASE="${CONSUMERS_CLUSTER_DIST_PORT:-25741}"
# One epmd for all cluster nodes (they find each other through it), not the stack's.
CL_EPMD_PORT="${CONSUMERS_CLUSTER_EPMD_PORT:-44379}"
CL_NODE_PREFIX="${CONSUMERS_CLUSTER_NODE_PREFIX:-consumers-c}"
CL_TIMEOUT="${CONSUMERS_CLUSTER_START_TIMEOUT:-150}"

CL_MARK="$CL_DIR/.consumers-cluster"
CL_HOME="$CL_DIR/home"
CL_PLUGINS="$CL_DIR/enabled_plugins"
CL_ENV_CONF="$CL_DIR/rabbitmq-env.conf"
LOCK_FILE="$CL_DIR.lock"
RB_HOST=127.0.0.1

usage() {
  cat <<EOF
usage: scripts/rabbit-cluster.sh <command> [node]

A local RabbitMQ cluster of $CL_SIZE nodes (CONSUMERS_CLUSTER_NODES) on $RB_HOST, all state in
$CL_DIR (CONSUMERS_CLUSTER_DIR). Separate from the shared stack of scripts/stack.sh.

commands:
  up           start every node, join them into one cluster, create user $CONSUMERS_RABBIT_USER;
               reuses a cluster that is fully up, starts afresh otherwise
  down         stop every node (SIGKILL if it does not stop in time), its epmd, and delete
               $CL_DIR
  status       each node running/stopped with pid and ports, and the cluster's members;
               exit 3 when a node is not running
  env          print 'export' lines (CONSUMERS_CLUSTER_NODES_AMQP=host:port,... and more)
  kill N       SIGKILL node N's Erlang VM: a lost machine, for fault tests
  start N      start node N again after a kill; it rejoins the cluster
  ctl N ...    rabbitmqctl against node N, e.g. 'ctl 1 cluster_status'
  help         this text

ports of node i (override the bases with the variables in brackets):
  AMQP        $((CL_AMQP_BASE))+i-1   [CONSUMERS_CLUSTER_AMQP_PORT]
  management  $((CL_MGMT_BASE))+i-1   [CONSUMERS_CLUSTER_MGMT_PORT]
  Erlang dist $((CL_DIST_BASE))+i-1   [CONSUMERS_CLUSTER_DIST_PORT]
  epmd        $CL_EPMD_PORT (shared by the nodes)   [CONSUMERS_CLUSTER_EPMD_PORT]
  node names  ${CL_NODE_PREFIX}i@localhost   [CONSUMERS_CLUSTER_NODE_PREFIX]

exit codes: 0 ok; 1 failure; 2 usage error; 3 'status' found a node not running;
            4 the cluster did not come up within CONSUMERS_CLUSTER_START_TIMEOUT (${CL_TIMEOUT}s)
EOF
}

# ---- one node --------------------------------------------------------------------------------

node_name() { echo "${CL_NODE_PREFIX}$1@localhost"; }
node_dir()  { echo "$CL_DIR/c$1"; }
amqp_port() { echo $(( CL_AMQP_BASE + $1 - 1 )); }
mgmt_port() { echo $(( CL_MGMT_BASE + $1 - 1 )); }
dist_port() { echo $(( CL_DIST_BASE + $1 - 1 )); }
pid_file()  { echo "$(node_dir "$1")/rabbitmq.pid"; }

# rabbitmq's own scripts, as user rabbitmq, with every file of node $1 under its folder. The
# home (and with it the Erlang cookie) is shared, so the nodes and our CLI calls trust each other.
node_env() {
  local i="$1" dir; dir="$(node_dir "$1")"
  local ctl_min=$(( CL_DIST_BASE + 10000 + (i - 1) * 10 ))
  printf '%s\n' \
    "HOME=$CL_HOME" \
    "LANG=C.UTF-8" "LC_ALL=C.UTF-8" \
    "RABBITMQ_NODENAME=$(node_name "$i")" \
    "RABBITMQ_USE_LONGNAME=false" \
    "RABBITMQ_CONF_ENV_FILE=$CL_ENV_CONF" \
    "RABBITMQ_CONFIG_FILE=$dir/rabbitmq.conf" \
    "RABBITMQ_ADVANCED_CONFIG_FILE=$dir/advanced.config" \
    "RABBITMQ_MNESIA_BASE=$dir/mnesia" \
    "RABBITMQ_LOG_BASE=$dir/log" \
    "RABBITMQ_ENABLED_PLUGINS_FILE=$CL_PLUGINS" \
    "RABBITMQ_PID_FILE=$(pid_file "$i")" \
    "RABBITMQ_DIST_PORT=$(dist_port "$i")" \
    "RABBITMQ_CTL_DIST_PORT_MIN=$ctl_min" \
    "RABBITMQ_CTL_DIST_PORT_MAX=$(( ctl_min + 9 ))" \
    "ERL_EPMD_PORT=$CL_EPMD_PORT" \
    "ERL_EPMD_ADDRESS=127.0.0.1" \
    "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}" \
    "RABBITMQ_CTL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}"
}
as_node() {
  local i="$1"; shift
  local -a envs
  mapfile -t envs < <(node_env "$i")
  runuser -u rabbitmq -- env "${envs[@]}" "$@"
}
ctl() { local i="$1"; shift; as_node "$i" "$RABBIT_BIN/rabbitmqctl" -n "$(node_name "$i")" "$@"; }

# shellcheck disable=SC2015  # "|| true": a missing file yields an empty answer
node_pid() { [[ -f "$(pid_file "$1")" ]] && tr -dc '0-9' < "$(pid_file "$1")" 2>/dev/null || true; }

# Node $1's Erlang VM is alive (it may still be booting). 3.10 names the node at run time, so the
# pid file (written by the node) says which node it is and the shared -home that it is one of ours.
node_alive() {
  local pid; pid="$(node_pid "$1")"
  pid_alive "$pid" || return 1
  local cmd; cmd="$(pid_cmdline "$pid")"
  [[ "$cmd" == *beam* && "$cmd" == *" -home $CL_HOME "* ]]
}

node_responds() { ctl "$1" -q ping --timeout 5 >/dev/null 2>&1; }

# The shipped rabbitmq.conf (consumer_timeout above the longest job, logging), with node $1's
# ports. The Prometheus plugin is left out: fewer ports and less memory per node.
write_node_conf() {
  local i="$1" dir; dir="$(node_dir "$1")"
  local tmpl="$REPO_ROOT/compose/rabbitmq/rabbitmq.conf"
  [[ -f "$tmpl" ]] || die "missing $tmpl"
  mkdir -p "$dir/mnesia" "$dir/log"
  {
    echo "# Rendered by scripts/rabbit-cluster.sh from compose/rabbitmq/rabbitmq.conf for node $(node_name "$i")."
    sed -E \
      -e "s|^([[:space:]]*listeners\.tcp\.default[[:space:]]*=).*|\1 127.0.0.1:$(amqp_port "$i")|" \
      -e "s|^([[:space:]]*management\.tcp\.port[[:space:]]*=).*|\1 $(mgmt_port "$i")|" \
      -e "s|^([[:space:]]*management\.tcp\.ip[[:space:]]*=).*|\1 127.0.0.1|" \
      -e '/^[[:space:]]*prometheus\./d' \
      "$tmpl"
  } > "$dir/rabbitmq.conf"
  grep -q '^consumer_timeout' "$dir/rabbitmq.conf" || die "consumer_timeout missing from $tmpl"
  chown -R rabbitmq:rabbitmq "$dir"
  chmod 750 "$dir"
}

start_node() {
  local i="$1" dir; dir="$(node_dir "$1")"
  rm -f "$(pid_file "$i")"
  info "node $(node_name "$i"): starting on $RB_HOST:$(amqp_port "$i") (management $(mgmt_port "$i"), log $dir/log)"
  local -a envs
  mapfile -t envs < <(node_env "$i")
  # New session, no terminal: the node outlives this script; 9>&- drops our lock.
  setsid runuser -u rabbitmq -- env "${envs[@]}" "$RABBIT_BIN/rabbitmq-server" \
    >"$dir/log/startup.log" 2>&1 </dev/null 9>&- &
  disown $! 2>/dev/null || true
}

# Waits until node $1's rabbit application runs, or fails (exit 4) at the deadline $2 (in SECONDS).
await_node() {
  local i="$1" deadline="$2" dir remaining; dir="$(node_dir "$1")"
  until [[ -s "$(pid_file "$i")" ]] && node_alive "$i"; do
    if (( SECONDS >= deadline )); then
      show_log_tail "$dir/log/startup.log" 30; die 4 "node $(node_name "$i"): its VM did not start within ${CL_TIMEOUT}s"
    fi
    sleep 0.5
  done
  until remaining=$(( deadline - SECONDS )); (( remaining > 0 )) && \
        ctl "$i" -q await_startup --timeout "$remaining" >/dev/null 2>>"$dir/log/ctl.log"; do
    if (( SECONDS >= deadline )); then
      show_log_tail "$dir/log/rabbitmq.log" 30; die 4 "node $(node_name "$i"): did not finish booting within ${CL_TIMEOUT}s"
    fi
    node_alive "$i" || { show_log_tail "$dir/log/startup.log" 30; show_log_tail "$dir/log/rabbitmq.log" 30; die 4 "node $(node_name "$i"): exited during startup"; }
    sleep 1
  done
}

kill_node() {
  local pid; pid="$(node_pid "$1")"
  if node_alive "$1"; then
    kill -CONT "$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
    local _
    for _ in $(seq 1 50); do pid_alive "$pid" || break; sleep 0.1; done
  fi
}

# ---- the cluster -----------------------------------------------------------------------------

take_lock() {
  mkdir -p "$(dirname "$LOCK_FILE")"
  exec 9>"$LOCK_FILE"
  flock -w 300 9 || die "timed out waiting for the lock $LOCK_FILE"
}

check_args() {
  [[ "$CL_SIZE" =~ ^[1-9]$ ]] || die 2 "CONSUMERS_CLUSTER_NODES must be 1..9, not '$CL_SIZE'"
}

check_node_arg() {
  if ! [[ "${1:-}" =~ ^[1-9]$ ]] || (( $1 > CL_SIZE )); then
    die 2 "name a node 1..$CL_SIZE"
  fi
}

all_running() {
  local i
  for (( i = 1; i <= CL_SIZE; i++ )); do node_alive "$i" && node_responds "$i" || return 1; done
  # Every node counts the whole cluster as running.
  local running; running="$(ctl 1 -q eval 'length(rabbit_nodes:all_running()).' 2>/dev/null || echo 0)"
  [[ "$running" == "$CL_SIZE" ]]
}

prepare() {
  id rabbitmq >/dev/null 2>&1 || die "system user 'rabbitmq' is missing (run scripts/install-deps.sh)"
  mkdir -p "$CL_DIR" "$CL_HOME"
  touch "$CL_MARK"
  chmod 755 "$CL_DIR"
  chown rabbitmq:rabbitmq "$CL_HOME"
  chmod 750 "$CL_HOME"
  # A cookie of its own: no other Erlang node on the machine can talk to this cluster.
  od -An -N20 -tu1 /dev/urandom | awk '{ for (i = 1; i <= NF; i++) printf "%c", 65 + $i % 26 }' > "$CL_HOME/.erlang.cookie"
  chown rabbitmq:rabbitmq "$CL_HOME/.erlang.cookie"
  chmod 400 "$CL_HOME/.erlang.cookie"
  echo "[rabbitmq_management]." > "$CL_PLUGINS"
  echo "# Intentionally empty: keeps /etc/rabbitmq/rabbitmq-env.conf out of these nodes." > "$CL_ENV_CONF"
  chown rabbitmq:rabbitmq "$CL_PLUGINS" "$CL_ENV_CONF"
  local i port
  reserve_ports "$CL_EPMD_PORT"
  for (( i = 1; i <= CL_SIZE; i++ )); do
    local ctl_min=$(( CL_DIST_BASE + 10000 + (i - 1) * 10 ))
    reserve_ports "$(amqp_port "$i")" "$(mgmt_port "$i")" "$(dist_port "$i")" "$ctl_min-$(( ctl_min + 9 ))"
    for port in "$(amqp_port "$i")" "$(mgmt_port "$i")" "$(dist_port "$i")"; do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        die "port $port (node $i) is already in use; set CONSUMERS_CLUSTER_*_PORT"
      fi
    done
    write_node_conf "$i"
  done
}

provision() {
  local user="$CONSUMERS_RABBIT_USER" pass="$CONSUMERS_RABBIT_PASS"
  ctl 1 -q add_user "$user" "$pass" >/dev/null 2>&1 || ctl 1 -q change_password "$user" "$pass" >/dev/null
  ctl 1 -q set_user_tags "$user" administrator >/dev/null
  ctl 1 -q set_permissions -p / "$user" '.*' '.*' '.*' >/dev/null
  local i deadline=$(( SECONDS + 60 )) code=
  for (( i = 1; i <= CL_SIZE; i++ )); do
    until code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -u "$user:$pass" \
            "http://$RB_HOST:$(mgmt_port "$i")/api/overview" 2>/dev/null)" && [[ "$code" == 200 ]]; do
      (( SECONDS < deadline )) || die 4 "node $i: management API did not answer 200 (last: ${code:-none})"
      sleep 0.5
    done
  done
}

cmd_up() {
  require_root
  check_args
  take_lock
  if [[ -e "$CL_MARK" ]] && all_running; then
    ok "cluster of $CL_SIZE nodes already running — reusing it"
    print_env
    return 0
  fi
  [[ -e "$CL_MARK" ]] && { warn "a partial cluster is in $CL_DIR: removing it and starting afresh"; remove_all; }
  local started=$SECONDS deadline=$(( SECONDS + CL_TIMEOUT )) i
  prepare
  # Every VM boots at once (the slow part); the others then join node 1.
  for (( i = 1; i <= CL_SIZE; i++ )); do start_node "$i"; done
  for (( i = 1; i <= CL_SIZE; i++ )); do await_node "$i" "$deadline"; done
  for (( i = 2; i <= CL_SIZE; i++ )); do
    ctl "$i" -q stop_app >/dev/null
    # Its stderr has harmless complaints about peers whose app is stopped; kept in the node's log folder.
    ctl "$i" -q join_cluster "$(node_name 1)" >/dev/null 2>>"$(node_dir "$i")/log/ctl.log" || die "node $i could not join $(node_name 1)"
  done
  local -a pids=()
  for (( i = 2; i <= CL_SIZE; i++ )); do ctl "$i" -q start_app >/dev/null & pids+=($!); done
  for i in "${pids[@]}"; do wait "$i" || die 4 "a node did not start again after joining"; done
  for (( i = 2; i <= CL_SIZE; i++ )); do await_node "$i" "$deadline"; done
  all_running || die 4 "the nodes did not form one cluster of $CL_SIZE"
  provision
  ok "cluster of $CL_SIZE nodes up in $(( SECONDS - started ))s (state in $CL_DIR)"
  print_env
}

remove_all() {
  local i
  for (( i = 1; i <= 9; i++ )); do
    [[ -d "$(node_dir "$i")" ]] || continue
    # A throwaway cluster: no graceful stop needed, and SIGKILL cannot hang.
    kill_node "$i"
  done
  # Only our epmd (its own port); the stack's stays.
  if [[ -d "$CL_HOME" ]]; then
    runuser -u rabbitmq -- env HOME="$CL_HOME" ERL_EPMD_PORT="$CL_EPMD_PORT" epmd -port "$CL_EPMD_PORT" -kill >/dev/null 2>&1 || true
  fi
  case "$CL_DIR" in
    ""|/|/tmp|/var|/var/tmp|/home|/root|/usr|/etc) die "refusing to delete '$CL_DIR'";;
  esac
  if [[ -d "$CL_DIR" ]]; then
    [[ -e "$CL_MARK" || -z "$(ls -A "$CL_DIR" 2>/dev/null)" ]] || die "refusing to delete $CL_DIR: no $CL_MARK marker"
    rm -rf "$CL_DIR"
  fi
}

cmd_down() {
  require_root
  check_args
  [[ -d "$CL_DIR" ]] || { info "nothing to stop: $CL_DIR does not exist"; return 0; }
  take_lock
  remove_all
  rm -f "$LOCK_FILE"
  ok "cluster stopped and $CL_DIR deleted"
}

cmd_status() {
  check_args
  local rc=0 i
  for (( i = 1; i <= CL_SIZE; i++ )); do
    if node_alive "$i" && node_responds "$i"; then
      echo "node $i $(node_name "$i"): running  pid $(node_pid "$i")  amqp $RB_HOST:$(amqp_port "$i")  management http://$RB_HOST:$(mgmt_port "$i")"
    else
      echo "node $i $(node_name "$i"): stopped  amqp $RB_HOST:$(amqp_port "$i")"; rc=3
    fi
  done
  for (( i = 1; i <= CL_SIZE; i++ )); do
    if node_responds "$i"; then
      echo "members running (seen by node $i): $(ctl "$i" -q eval 'rabbit_nodes:all_running().' 2>/dev/null | tr -d '\n')"
      break
    fi
  done
  return "$rc"
}

print_env() {
  local i amqp="" mgmt=""
  for (( i = 1; i <= CL_SIZE; i++ )); do
    amqp+="${amqp:+,}$RB_HOST:$(amqp_port "$i")"
    mgmt+="${mgmt:+,}http://$RB_HOST:$(mgmt_port "$i")"
  done
  cat <<EOF
export CONSUMERS_CLUSTER_DIR="$CL_DIR"
export CONSUMERS_CLUSTER_NODES_AMQP="$amqp"
export CONSUMERS_CLUSTER_NODES_MGMT="$mgmt"
# worker settings: Consumers__RabbitMq__Nodes__0=$RB_HOST:$(amqp_port 1) ... and Consumers__RabbitMq__QueueType=quorum
EOF
}

cmd_kill() {
  require_root
  check_node_arg "${1:-}"
  node_alive "$1" || die "node $1 is not running"
  local pid; pid="$(node_pid "$1")"
  kill_node "$1"
  pid_alive "$pid" && die "node $1 (pid $pid) did not die"
  echo "node $1 $(node_name "$1"): killed (pid $pid)"
}

cmd_start() {
  require_root
  check_node_arg "${1:-}"
  node_alive "$1" && { echo "node $1 is already running"; return 0; }
  start_node "$1"
  await_node "$1" $(( SECONDS + CL_TIMEOUT ))
  echo "node $1 $(node_name "$1"): running again"
}

main() {
  local verb="${1:-help}"
  [[ $# -gt 0 ]] && shift
  case "$verb" in
    up)     cmd_up ;;
    down)   cmd_down ;;
    status) cmd_status ;;
    env)    print_env ;;
    kill)   cmd_kill "$@" ;;
    start)  cmd_start "$@" ;;
    ctl)    require_root; check_node_arg "${1:-}"; local n="$1"; shift; ctl "$n" "$@" ;;
    help|-h|--help) usage ;;
    *) usage >&2; die 2 "unknown command '$verb'" ;;
  esac
}

main "$@"
