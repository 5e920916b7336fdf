#!/usr/bin/env bash
# Installs what the Consumers stack and test suite need on Debian 12, and only what is missing:
# PostgreSQL 15 (with pg_stat_statements), RabbitMQ, ffmpeg, curl, Prometheus (promtool), shellcheck, and
# chromium with chromium-driver (the dashboard's browser tests drive them headless).
# The .NET SDK must already be present; this script only checks it.
#
# Idempotent: a second run installs nothing and does not touch apt.
# Exit codes: 0 ok, 1 install failed, 2 unsupported machine (no dotnet, not root, no apt).
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

INSTALL_LOG="${CONSUMERS_INSTALL_LOG:-${CONSUMERS_STACK_DIR%/}-install.log}"

check_dotnet() {
  if ! command -v dotnet >/dev/null 2>&1; then
    die 2 "dotnet was not found on PATH. Install the .NET 10 SDK first (see global.json)."
  fi
  local v
  if ! v="$(cd "$REPO_ROOT" && dotnet --version 2>&1)"; then
    err "dotnet is installed but 'dotnet --version' failed in $REPO_ROOT (SDK required by global.json missing?):"
    printf '%s\n' "$v" >&2
    exit 2
  fi
  info "dotnet SDK $v"
}

# Decide which Debian packages are missing, by the files we actually use.
missing_packages() {
  local -a pkgs=()
  [[ -x "$PG_BIN/postgres" && -x "$PG_BIN/initdb" && -x "$PG_BIN/pg_ctl" ]] || pkgs+=(postgresql-15)
  # On Debian 12 pg_stat_statements ships inside postgresql-15 itself (postgresql-contrib is only a
  # metapackage), so a missing library means a broken postgresql-15 install.
  if [[ ! -f /usr/lib/postgresql/15/lib/pg_stat_statements.so && ! " ${pkgs[*]} " =~ " postgresql-15 " ]]; then
    pkgs+=(postgresql-15)
  fi
  [[ -x "$PG_BIN/psql" || -x /usr/lib/postgresql/15/bin/psql ]] || pkgs+=(postgresql-client-15)
  [[ -x "$RABBIT_BIN/rabbitmq-server" && -x "$RABBIT_BIN/rabbitmqctl" ]] || pkgs+=(rabbitmq-server)
  command -v ffmpeg  >/dev/null 2>&1 || pkgs+=(ffmpeg)
  command -v ffprobe >/dev/null 2>&1 || [[ " ${pkgs[*]} " =~ " ffmpeg " ]] || pkgs+=(ffmpeg)
  command -v curl    >/dev/null 2>&1 || pkgs+=(curl)
  [[ -x /usr/bin/prometheus ]] || pkgs+=(prometheus)
  command -v flock   >/dev/null 2>&1 || pkgs+=(util-linux)
  command -v shellcheck >/dev/null 2>&1 || pkgs+=(shellcheck)
  [[ -f /etc/ssl/certs/ca-certificates.crt ]] || pkgs+=(ca-certificates)
  # The dashboard tests (tests/Consumers.IntegrationTests/Admin) drive Debian's browser and its driver, never a download.
  [[ -x /usr/bin/chromium ]] || pkgs+=(chromium)
  [[ -x /usr/bin/chromedriver ]] || pkgs+=(chromium-driver)
  printf '%s\n' "${pkgs[@]}"
}

# The Debian packages' maintainer scripts try to start their services (postgresql cluster "main",
# rabbitmq-server on 5672, prometheus on 9090). We run our own instances on our own ports, so keep
# those from starting at all with a policy-rc.d that denies every start. An existing policy-rc.d
# (container images ship one) is left as it is.
POLICY_RC=/usr/sbin/policy-rc.d
POLICY_RC_OURS=0
deny_service_starts() {
  if [[ ! -e "$POLICY_RC" ]]; then
    printf '#!/bin/sh\n# temporary, written by Consumers scripts/install-deps.sh\nexit 101\n' > "$POLICY_RC"
    chmod 755 "$POLICY_RC"
    POLICY_RC_OURS=1
  fi
}
allow_service_starts() {
  if [[ "$POLICY_RC_OURS" -eq 1 ]]; then
    rm -f "$POLICY_RC"
    POLICY_RC_OURS=0
  fi
}

# Stop and disable system services that an install may have started anyway (e.g. where a
# policy-rc.d is ignored). Only the packages' default instances are touched, never ours.
quiet_system_services() {
  local svc
  for svc in prometheus rabbitmq-server; do
    [[ -e "/etc/init.d/$svc" || -e "/lib/systemd/system/$svc.service" ]] || continue
    if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
      systemctl disable --now "$svc" >>"$INSTALL_LOG" 2>&1 || true
    else
      update-rc.d "$svc" disable >>"$INSTALL_LOG" 2>&1 || true
    fi
  done
  # Default Prometheus on :9090, started by the package: stop it through its init script.
  if [[ -f /run/prometheus/prometheus.pid ]] && pid_alive "$(cat /run/prometheus/prometheus.pid 2>/dev/null)"; then
    info "stopping the prometheus system service started by the package"
    service prometheus stop >>"$INSTALL_LOG" 2>&1 || true
  fi
  # Default RabbitMQ node rabbit@<host> on :5672, started by the package.
  if [[ -x "$RABBIT_BIN/rabbitmqctl" ]] && [[ -f /var/lib/rabbitmq/mnesia/rabbit@$(hostname -s).pid ]] \
     && pid_alive "$(cat "/var/lib/rabbitmq/mnesia/rabbit@$(hostname -s).pid" 2>/dev/null)"; then
    info "stopping the rabbitmq-server system service started by the package"
    service rabbitmq-server stop >>"$INSTALL_LOG" 2>&1 || true
  fi
}

apt_install() {
  local -a pkgs=("$@")
  command -v apt-get >/dev/null 2>&1 || die 2 "apt-get not found: this script supports Debian 12 only"
  require_root
  : > "$INSTALL_LOG" || die "cannot write install log $INSTALL_LOG"
  info "installing: ${pkgs[*]} (log: $INSTALL_LOG)"
  deny_service_starts
  trap 'allow_service_starts' EXIT
  export DEBIAN_FRONTEND=noninteractive
  local -a apt_opts=(-y -q -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  info "apt-get update"
  if ! apt-get "${apt_opts[@]}" update >>"$INSTALL_LOG" 2>&1; then
    show_log_tail "$INSTALL_LOG" 40
    die "apt-get update failed (full log: $INSTALL_LOG)"
  fi
  info "apt-get install (this can take a few minutes)"
  if ! apt-get "${apt_opts[@]}" install --no-install-recommends "${pkgs[@]}" >>"$INSTALL_LOG" 2>&1; then
    show_log_tail "$INSTALL_LOG" 80
    die "apt-get install ${pkgs[*]} failed (full log: $INSTALL_LOG)"
  fi
  allow_service_starts
  trap - EXIT
  quiet_system_services
  ok "installed: ${pkgs[*]}"
}

verify() {
  local bad=0
  [[ -x "$PG_BIN/postgres" ]] || { err "PostgreSQL 15 server missing at $PG_BIN"; bad=1; }
  [[ -f /usr/lib/postgresql/15/lib/pg_stat_statements.so ]] || { err "pg_stat_statements missing"; bad=1; }
  [[ -x "$RABBIT_BIN/rabbitmqctl" ]] || { err "RabbitMQ missing at $RABBIT_BIN"; bad=1; }
  command -v ffmpeg >/dev/null 2>&1 || { err "ffmpeg missing"; bad=1; }
  command -v curl >/dev/null 2>&1 || { err "curl missing"; bad=1; }
  [[ -x /usr/bin/prometheus ]] || { err "prometheus missing"; bad=1; }
  id postgres >/dev/null 2>&1 || { err "system user postgres missing"; bad=1; }
  id rabbitmq >/dev/null 2>&1 || { err "system user rabbitmq missing"; bad=1; }
  [[ "$bad" -eq 0 ]] || die "dependencies incomplete after install"
}

main() {
  case "${1:-}" in
    -h|--help|help)
      echo "usage: scripts/install-deps.sh   (installs missing Debian packages; needs root)"
      exit 0 ;;
  esac
  check_dotnet
  local -a missing
  mapfile -t missing < <(missing_packages | awk 'NF && !seen[$0]++')
  if [[ "${#missing[@]}" -eq 0 ]]; then
    info "all dependencies present (postgresql-15, rabbitmq-server, ffmpeg, curl, prometheus)"
  else
    apt_install "${missing[@]}"
  fi
  verify
}

main "$@"
