# shellcheck shell=bash
# Shared settings and helpers for scripts/stack.sh, scripts/install-deps.sh and scripts/test.sh.
# Source it; do not run it.

# ---- settings (every one can be overridden from the environment) ------------------------------
CONSUMERS_STACK_DIR="${CONSUMERS_STACK_DIR:-/tmp/consumers-stack}"
CONSUMERS_PG_HOST="${CONSUMERS_PG_HOST:-127.0.0.1}"
CONSUMERS_PG_PORT="${CONSUMERS_PG_PORT:-54329}"
CONSUMERS_RABBIT_PORT="${CONSUMERS_RABBIT_PORT:-56729}"
CONSUMERS_RABBIT_MGMT_PORT="${CONSUMERS_RABBIT_MGMT_PORT:-15729}"
RABBITMQ_DIST_PORT="${RABBITMQ_DIST_PORT:-25729}"
CONSUMERS_RABBIT_METRICS_PORT="${CONSUMERS_RABBIT_METRICS_PORT:-15792}"
ERL_EPMD_PORT="${ERL_EPMD_PORT:-44369}"
CONSUMERS_RABBIT_NODE="${CONSUMERS_RABBIT_NODE:-consumers@localhost}"

# Credentials used by the worker, the tests and people. Loopback only.
CONSUMERS_DB_NAME="${CONSUMERS_DB_NAME:-consumers}"
CONSUMERS_DB_USER="${CONSUMERS_DB_USER:-consumers}"
CONSUMERS_DB_PASSWORD="${CONSUMERS_DB_PASSWORD:-consumers}"
CONSUMERS_RABBIT_USER="${CONSUMERS_RABBIT_USER:-consumers}"
CONSUMERS_RABBIT_PASS="${CONSUMERS_RABBIT_PASS:-consumers}"

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
RABBIT_BIN="${RABBIT_BIN:-/usr/lib/rabbitmq/bin}"

# Absolute path of the repository (this file lives in <repo>/scripts).
# shellcheck disable=SC2034  # used by the scripts that source this file
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# ---- messages -------------------------------------------------------------------------------
if [[ -t 2 && -z "${NO_COLOR:-}" ]]; then
  _c_info=$'\e[36m' _c_ok=$'\e[32m' _c_warn=$'\e[33m' _c_err=$'\e[31m' _c_off=$'\e[0m'
else
  _c_info='' _c_ok='' _c_warn='' _c_err='' _c_off=''
fi
_tag="${CONSUMERS_LOG_TAG:-$(basename "$0" .sh)}"

info() { printf '%s[%s]%s %s\n' "$_c_info" "$_tag" "$_c_off" "$*" >&2; }
ok()   { printf '%s[%s]%s %s\n' "$_c_ok" "$_tag" "$_c_off" "$*" >&2; }
warn() { printf '%s[%s] warning:%s %s\n' "$_c_warn" "$_tag" "$_c_off" "$*" >&2; }
err()  { printf '%s[%s] error:%s %s\n' "$_c_err" "$_tag" "$_c_off" "$*" >&2; }
die()  { local code=1; if [[ "${1:-}" =~ ^[0-9]+$ ]]; then code="$1"; shift; fi; err "$*"; exit "$code"; }

# Keeps the given ports (or ranges, "a-b") out of the kernel's ephemeral port range, so that no outgoing connection
# takes one as its local port before our listener binds it (a RabbitMQ node then fails with eaddrinuse). Needs root
# and a writable /proc/sys; without them nothing changes and the listener just has to be lucky.
reserve_ports() {
  local file=/proc/sys/net/ipv4/ip_local_reserved_ports current joined
  [[ -w "$file" ]] || return 0
  current="$(cat "$file" 2>/dev/null)" || return 0
  joined="$(IFS=,; echo "$*")"
  echo "${current:+$current,}$joined" > "$file" 2>/dev/null || true
}

# Print the last lines of a log file to stderr, framed, so failures explain themselves.
show_log_tail() {
  local file="$1" lines="${2:-60}"
  [[ -f "$file" ]] || { warn "log file $file does not exist"; return 0; }
  printf -- '----- last %s lines of %s -----\n' "$lines" "$file" >&2
  tail -n "$lines" "$file" >&2 || true
  printf -- '----- end of %s -----\n' "$file" >&2
}

require_root() {
  [[ "$(id -u)" -eq 0 ]] || die "this must run as root (it installs packages and starts services as the postgres and rabbitmq users)"
}

# True when a process with this pid exists.
pid_alive() { [[ -n "${1:-}" && "$1" =~ ^[0-9]+$ && -d "/proc/$1" ]]; }

# Command line of a pid, NULs turned into spaces (empty when the process is gone).
pid_cmdline() { tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null || true; }
