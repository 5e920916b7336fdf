#!/usr/bin/env bash
# The Consumers demo: starts the local stack, builds the worker, runs two worker processes, submits a
# batch of real jobs (including bad ones), shows them run with progress bars, kills a worker mid-job to
# show recovery, cancels a running job, pauses and resumes a stage, and prints the outcome table, one
# job's timeline and where to look next. The admin dashboard (consumers serve) runs from the start; its
# address and key are printed. Whatever the demo started is stopped when it exits (a trap, also on failure or
# Ctrl-C), except the dashboard after a complete run, which stays for you to look around (DEMO_KEEP_DASHBOARD=0
# stops it too); the closing lines say how to stop it and how to drop the demo's database and virtual host.
#
# usage: scripts/demo.sh            (everything; two to three minutes on a 2-core machine)
# Environment: DEMO_JOBS (default 12) manifest jobs in the batch; DEMO_DIR (default /tmp/consumers-demo);
# DEMO_DB (default consumers_demo) and DEMO_VHOST (default demo): the database and RabbitMQ virtual host it
# recreates; DEMO_ADMIN_PORT (default 9470) port of the dashboard; DEMO_METRICS_PORTS (default "9464 9465") the
# two workers' metrics ports; DEMO_KEEP_DASHBOARD (default 1).
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

DEMO_DIR="${DEMO_DIR:-/tmp/consumers-demo}"
DEMO_JOBS="${DEMO_JOBS:-12}"
DEMO_DB="${DEMO_DB:-consumers_demo}"
DEMO_VHOST="${DEMO_VHOST:-demo}"
ADMIN_PORT="${DEMO_ADMIN_PORT:-9470}"
read -r METRICS_PORT_A METRICS_PORT_B <<<"${DEMO_METRICS_PORTS:-9464 9465}"
KEEP_DASHBOARD="${DEMO_KEEP_DASHBOARD:-1}"
ADMIN_PID_FILE="$DEMO_DIR.admin.pid"
[[ "$DEMO_DB" =~ ^[a-z_][a-z0-9_]*$ ]] || die "DEMO_DB must be a plain lower-case name, not '$DEMO_DB'"
[[ "$DEMO_VHOST" =~ ^[A-Za-z0-9_-]+$ ]] || die "DEMO_VHOST must be letters, digits, '-' or '_', not '$DEMO_VHOST'"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

step() { printf '\n%s==> %s%s\n' "$_c_ok" "$*" "$_c_off"; }

# ---- cleanup: everything this run started, by the pids it recorded (never by a name pattern) ----------------------
STARTED_PIDS=()   # workers and helpers of this run
ADMIN_PID=""      # the dashboard, once this run started it
DEMO_COMPLETE=0
stop_pids() {  # pids: SIGTERM to all, up to 15 s to drain, then SIGKILL to what is left
  local pid deadline=$(( SECONDS + 15 )) alive
  for pid in "$@"; do pid_alive "$pid" && kill -TERM "$pid" 2>/dev/null; done
  while (( SECONDS < deadline )); do
    alive=0
    for pid in "$@"; do pid_alive "$pid" && alive=1; done
    (( alive )) || return 0
    sleep 0.2
  done
  for pid in "$@"; do pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null; done
  return 0
}
cleanup() {
  local code=$? stop=("${STARTED_PIDS[@]}")
  trap - EXIT INT TERM
  if [[ -n "$ADMIN_PID" ]] && { (( DEMO_COMPLETE == 0 )) || [[ "$KEEP_DASHBOARD" != 1 ]]; }; then
    stop+=("$ADMIN_PID")
    rm -f "$ADMIN_PID_FILE"
    (( DEMO_COMPLETE == 1 )) && echo "  dashboard stopped (DEMO_KEEP_DASHBOARD=$KEEP_DASHBOARD)"
  fi
  (( ${#stop[@]} == 0 )) || stop_pids "${stop[@]}"
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---- 1. stack and build ---------------------------------------------------------------------------
step "Starting the local stack (PostgreSQL 15 + RabbitMQ 3.10 with management) on 127.0.0.1"
bash scripts/stack.sh up
eval "$(bash scripts/stack.sh env)"

step "Building the worker (Release)"
dotnet build src/Consumers.Worker -c Release -v quiet -nologo -clp:NoSummary >"$DEMO_DIR.build.log" 2>&1 \
  || { show_log_tail "$DEMO_DIR.build.log" 60; die "build failed"; }
CONSUMERS=(dotnet "$REPO_ROOT/src/Consumers.Worker/bin/Release/net10.0/consumers.dll")

# ---- 2. a clean corner of the stack ------------------------------------------------------------
step "Preparing a fresh database ($DEMO_DB), virtual host ($DEMO_VHOST) and folders ($DEMO_DIR)"
# A previous demo's processes, by the pids it recorded (a run that was itself cleaned up leaves none), and only if
# that pid is still a consumers process: a recycled pid is someone else's.
for f in "$DEMO_DIR"/logs/*.pid "$ADMIN_PID_FILE"; do
  [[ -f "$f" ]] || continue
  pid=$(cat "$f")
  if pid_alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'consumers.dll'; then stop_pids "$pid"; fi
done
rm -f "$ADMIN_PID_FILE"
for port in "$METRICS_PORT_A" "$METRICS_PORT_B" "$ADMIN_PORT"; do
  port_free "$port" || die "port $port on 127.0.0.1 is taken by another program; choose others with DEMO_METRICS_PORTS / DEMO_ADMIN_PORT"
done
rm -rf "$DEMO_DIR" && mkdir -p "$DEMO_DIR"/{media,artifacts,scratch,logs}
PGPASSWORD="$CONSUMERS_DB_PASSWORD" "$PG_BIN/psql" -q -h "$CONSUMERS_PG_HOST" -p "$CONSUMERS_PG_PORT" -U "$CONSUMERS_DB_USER" -d postgres \
  -c "DROP DATABASE IF EXISTS $DEMO_DB WITH (FORCE)" -c "CREATE DATABASE $DEMO_DB" >/dev/null
mgmt() { curl -fsS -u "$CONSUMERS_RABBIT_USER:$CONSUMERS_RABBIT_PASS" -H 'content-type: application/json' "$@"; }
mgmt -X DELETE "$CONSUMERS_RABBIT_MGMT/api/vhosts/$DEMO_VHOST" >/dev/null 2>&1 || true
mgmt -X PUT "$CONSUMERS_RABBIT_MGMT/api/vhosts/$DEMO_VHOST" >/dev/null
mgmt -X PUT -d '{"configure":".*","write":".*","read":".*"}' \
  "$CONSUMERS_RABBIT_MGMT/api/permissions/$DEMO_VHOST/$CONSUMERS_RABBIT_USER" >/dev/null

export Consumers__Database__ConnectionString="Host=$CONSUMERS_PG_HOST;Port=$CONSUMERS_PG_PORT;Database=$DEMO_DB;Username=$CONSUMERS_DB_USER;Password=$CONSUMERS_DB_PASSWORD;Maximum Pool Size=40;Max Auto Prepare=64"
export Consumers__RabbitMq__Host=127.0.0.1 Consumers__RabbitMq__Port="$CONSUMERS_RABBIT_PORT"
export Consumers__RabbitMq__VirtualHost="$DEMO_VHOST"
export Consumers__RabbitMq__Username="$CONSUMERS_RABBIT_USER" Consumers__RabbitMq__Password="$CONSUMERS_RABBIT_PASS"
export Consumers__Artifacts__Root="$DEMO_DIR/artifacts" Consumers__Artifacts__MediaRoots__0="$DEMO_DIR/media"
export Consumers__Scratch__Root="$DEMO_DIR/scratch"
export Consumers__Flow__ConcurrentJobs=3
export Logging__LogLevel__Default=Information

step "consumers migrate"
"${CONSUMERS[@]}" migrate

# ---- 3. media ---------------------------------------------------------------------------------
step "Making source media"
for i in $(seq 1 "$DEMO_JOBS"); do
  head -c $(( 200000 + i * 150000 )) /dev/urandom >"$DEMO_DIR/media/file-$i.bin"
done
echo "  $DEMO_JOBS files of 0.35 to $(( (200000 + DEMO_JOBS * 150000) / 1000000 )) MB in $DEMO_DIR/media"
# Real clips, made by ffmpeg from its test sources: colour bars with a clock, and a 440 Hz tone.
for clip in "intro:8" "talk:20"; do
  name="${clip%%:*}" seconds="${clip##*:}"
  ffmpeg -nostdin -hide_banner -loglevel error -f lavfi -i "testsrc=size=640x360:rate=25:duration=$seconds" \
    -f lavfi -i "sine=frequency=440:duration=$seconds" -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac \
    -y "$DEMO_DIR/media/$name.mp4"
done
echo "  2 clips (8 s and 20 s, 640x360 with audio) in $DEMO_DIR/media"

# ---- 4. workers ---------------------------------------------------------------------------------
start_worker() {
  local id="$1" port="$2"
  "${CONSUMERS[@]}" run --worker-id "$id" --metrics-port "$port" >"$DEMO_DIR/logs/$id.log" 2>&1 &
  echo $! >"$DEMO_DIR/logs/$id.pid"
  STARTED_PIDS+=("$!")
  disown $! 2>/dev/null || true
  local deadline=$(( SECONDS + 60 ))
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/health/ready" 2>/dev/null; do
    (( SECONDS < deadline )) || { show_log_tail "$DEMO_DIR/logs/$id.log" 40; die "worker $id did not become ready"; }
    sleep 0.3
  done
  echo "  $id ready: pid $(cat "$DEMO_DIR/logs/$id.pid"), metrics http://127.0.0.1:$port/metrics, log $DEMO_DIR/logs/$id.log"
}
step "Starting two worker processes (3 slots each)"
start_worker demo-a "$METRICS_PORT_A"
start_worker demo-b "$METRICS_PORT_B"

step "Starting the admin API and dashboard (consumers serve)"
ADMIN_KEY="$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
Consumers__Admin__Operators__demo="$ADMIN_KEY" "${CONSUMERS[@]}" serve --port "$ADMIN_PORT" >"$DEMO_DIR/logs/admin.log" 2>&1 &
echo $! >"$ADMIN_PID_FILE"
ADMIN_PID=$!
disown $! 2>/dev/null || true
deadline=$(( SECONDS + 60 ))
until curl -fsS -o /dev/null -H "X-Api-Key: $ADMIN_KEY" "http://127.0.0.1:$ADMIN_PORT/api/me" 2>/dev/null; do
  (( SECONDS < deadline )) || { show_log_tail "$DEMO_DIR/logs/admin.log" 40; die "consumers serve did not start"; }
  sleep 0.3
done
echo "  dashboard http://127.0.0.1:$ADMIN_PORT/   (sign in with the operator key $ADMIN_KEY)"
echo "  API       http://127.0.0.1:$ADMIN_PORT/api  (header X-Api-Key), OpenAPI http://127.0.0.1:$ADMIN_PORT/openapi/v1.json"

# ---- 5. jobs --------------------------------------------------------------------------------------
step "Submitting jobs: each is a row plus its JobRequested, in one transaction"
submit() { "${CONSUMERS[@]}" submit "$@"; }
for i in $(seq 1 "$DEMO_JOBS"); do
  submit --stage manifest --source "file-$i.bin" --output-key "manifests/file-$i.json" --param chunkBytes=65536 >/dev/null
done
echo "  $DEMO_JOBS x manifest (SHA-256 manifests of the files)"
for name in intro talk; do
  submit --stage probe --source "$name.mp4" --output-key "media/$name/probe.json" >/dev/null
  submit --stage thumbnail --source "$name.mp4" --output-key "media/$name/thumb.jpg" --param width=320 >/dev/null
  submit --stage waveform --source "$name.mp4" --output-key "media/$name/waveform.json" --param points=400 >/dev/null
done
TRANSCODE_JOB=$(submit --stage transcode --source talk.mp4 --output-key media/talk/proxy-240p.mp4 --param height=240)
submit --stage transcode --source intro.mp4 --output-key media/intro/proxy-240p.mp4 --param height=240 >/dev/null
echo "  2 x probe, thumbnail, waveform and transcode on the clips   (transcode of talk.mp4: $TRANSCODE_JOB)"
LONG_JOB=$(submit --stage synthetic --output-key synthetic/long.json --param durationMs=12000 --param steps=24)
echo "  1 x synthetic, 12 s with progress          $LONG_JOB"
RETRY_JOB=$(submit --stage synthetic --output-key synthetic/flaky.json --param failCode=DEPENDENCY_UNAVAILABLE --param failAttempts=1)
echo "  1 x synthetic failing once (transient)     $RETRY_JOB"
FATAL_JOB=$(submit --stage synthetic --output-key synthetic/corrupt.json --param failCode=CORRUPT_MEDIA)
echo "  1 x synthetic failing fatally              $FATAL_JOB"
BAD_JOB=$(submit --stage manifest --source file-1.bin --output-key ../outside.json)
echo "  1 x invalid request (output key escapes)   $BAD_JOB"
# One pipeline: probe first, then thumbnail, waveform and transcode, sized by the probe's duration (docs/pipelines.md).
PIPELINE_ID=$(cat /proc/sys/kernel/random/uuid)
cat >"$DEMO_DIR/pipeline.json" <<JSON
{"pipelineId":"$PIPELINE_ID","source":"intro.mp4","steps":[
  {"name":"probe","stage":"probe","outputKey":"uploads/intro/probe.json"},
  {"name":"thumbnail","stage":"thumbnail","outputKey":"uploads/intro/thumb.jpg","dependsOn":["probe"],"parameters":{"width":"320"}},
  {"name":"waveform","stage":"waveform","outputKey":"uploads/intro/waveform.json","dependsOn":["probe"],"parameters":{"points":"200"}},
  {"name":"transcode","stage":"transcode","outputKey":"uploads/intro/proxy-144p.mp4","dependsOn":["probe"],"parameters":{"height":"144"}}]}
JSON
submit --pipeline "$DEMO_DIR/pipeline.json" >/dev/null
echo "  1 x pipeline: probe, then thumbnail, waveform and transcode    $PIPELINE_ID"
DUP_ID=$(cat /proc/sys/kernel/random/uuid)
body="{\"jobId\":\"$DUP_ID\",\"stage\":\"manifest\",\"source\":\"file-2.bin\",\"outputKey\":\"plain/file-2.json\"}"
for _ in 1 2; do
  mgmt -X POST "$CONSUMERS_RABBIT_MGMT/api/exchanges/$DEMO_VHOST/amq.default/publish" \
    -d "{\"properties\":{\"content_type\":\"application/json\"},\"routing_key\":\"consumers.jobs\",\"payload\":$(printf '%s' "$body" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))'),\"payload_encoding\":\"string\"}" >/dev/null
done
echo "  1 x plain JSON published twice by hand through the management API (runs once)  $DUP_ID"

# ---- 6. a crash -----------------------------------------------------------------------------------
step "Watching; demo-a will be killed with SIGKILL while it runs a job"
(
  for _ in $(seq 1 100); do
    owner=$("${CONSUMERS[@]}" show "$LONG_JOB" --json 2>/dev/null | python3 -c 'import json,sys; j=json.load(sys.stdin)["job"]; print(j["leaseOwner"] or "")' 2>/dev/null || true)
    if [[ -n "$owner" ]]; then
      sleep 3
      pid=$(cat "$DEMO_DIR/logs/$owner.pid")
      kill -9 "$pid" 2>/dev/null && echo ">>> killed $owner (pid $pid) with SIGKILL while it ran $LONG_JOB" >"$DEMO_DIR/logs/killed"
      exit 0
    fi
    sleep 0.3
  done
) &
KILLER=$!
STARTED_PIDS+=("$KILLER")
"${CONSUMERS[@]}" watch --until-idle --timeout 240 || warn "some jobs did not finish in time"
wait "$KILLER" 2>/dev/null || true
[[ -f "$DEMO_DIR/logs/killed" ]] && cat "$DEMO_DIR/logs/killed"

# ---- 7. steering work in flight --------------------------------------------------------------------
sql() {  # one value from the demo database; psql starts far faster than the CLI, which matters when polling
  PGPASSWORD="$CONSUMERS_DB_PASSWORD" "$PG_BIN/psql" -h "$CONSUMERS_PG_HOST" -p "$CONSUMERS_PG_PORT" -U "$CONSUMERS_DB_USER" -d "$DEMO_DB" "$@"
}
job_status() { sql -tAc "SELECT status FROM jobs WHERE id = '$1'"; }
wait_status() {  # job, wanted status, seconds
  local deadline=$(( SECONDS + $3 ))
  until [[ "$(job_status "$1")" == "$2" ]]; do
    (( SECONDS < deadline )) || { warn "job $1 is $(job_status "$1"), not $2, after $3 s"; return 1; }
    sleep 0.3
  done
}
step "Cancelling a running job: a 60-second job is stopped by the worker holding it"
CANCEL_JOB=$(submit --stage synthetic --output-key synthetic/mistake.json --param durationMs=60000 --param steps=60)
wait_status "$CANCEL_JOB" processing 30 && echo "  $CANCEL_JOB is running"
sleep 2
"${CONSUMERS[@]}" cancel "$CANCEL_JOB" --reason "wrong source clip" --by demo
wait_status "$CANCEL_JOB" cancelled 10 && echo "  stopped by its worker $(sql -tAc "SELECT round(extract(epoch FROM e.occurred_at - j.cancel_requested_at) * 1000)
  FROM job_events e JOIN jobs j ON j.id = e.job_id WHERE e.job_id = '$CANCEL_JOB' AND e.type = 'cancelled'") ms after the request was recorded; its last events:"
"${CONSUMERS[@]}" show "$CANCEL_JOB" | tail -n 4

step "Pausing the manifest stage on every worker while other stages run, then resuming it"
"${CONSUMERS[@]}" pause manifest --reason "demo: holding manifests" --by demo
sleep 2  # a pause reaches every worker within 2 s
HELD=()
for i in 1 2 3; do
  HELD+=("$(submit --stage manifest --source "file-$i.bin" --output-key "held/file-$i.json")")
done
OTHER_JOB=$(submit --stage probe --source intro.mp4 --output-key media/intro/probe-again.json)
wait_status "$OTHER_JOB" succeeded 30 && echo "  a probe submitted meanwhile ran: $OTHER_JOB succeeded"
sleep 0.5
held_states=$(for id in "${HELD[@]}"; do job_status "$id"; done | sort | uniq -c | xargs)
parked_now() { mgmt "$CONSUMERS_RABBIT_MGMT/api/queues/$DEMO_VHOST/consumers.jobs.paused.manifest" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("messages", 0))'; }
# The management API refreshes queue figures every 5 s.
for _ in $(seq 1 25); do parked=$(parked_now); [[ "$parked" == 3 ]] && break; sleep 0.3; done
echo "  the 3 manifest jobs submitted while paused: $held_states; messages parked in consumers.jobs.paused.manifest: $parked"
"${CONSUMERS[@]}" pauses
"${CONSUMERS[@]}" resume manifest --by demo
for id in "${HELD[@]}"; do wait_status "$id" succeeded 30 || true; done
held_states=$(for id in "${HELD[@]}"; do job_status "$id"; done | sort | uniq -c | xargs)
echo "  after the resume: $held_states"
echo "  the operator audit (operator_actions):"
sql -c "SELECT to_char(at, 'HH24:MI:SS') AS at, action, target, by, reason, outcome FROM operator_actions ORDER BY at"

# ---- 8. what happened -------------------------------------------------------------------------------
step "consumers list"
"${CONSUMERS[@]}" list --limit 30
step "consumers show $LONG_JOB   (the job whose worker was killed)"
"${CONSUMERS[@]}" show "$LONG_JOB"
step "consumers show $TRANSCODE_JOB   (a real transcode, with its progress events)"
"${CONSUMERS[@]}" show "$TRANSCODE_JOB"
step "consumers show $RETRY_JOB   (failed once, retried after its backoff)"
"${CONSUMERS[@]}" show "$RETRY_JOB"
step "consumers show $BAD_JOB   (rejected at once with a code)"
"${CONSUMERS[@]}" show "$BAD_JOB"
step "consumers show $PIPELINE_ID   (the pipeline: its steps as a tree, then its own timeline)"
"${CONSUMERS[@]}" show "$PIPELINE_ID"
step "consumers check-timeline   (every timeline against the ordering rules)"
"${CONSUMERS[@]}" check-timeline || true
step "A few metrics from the surviving worker (series that moved; every series exists from start at 0)"
for port in "$METRICS_PORT_A" "$METRICS_PORT_B"; do
  if metrics=$(curl -fsS "http://127.0.0.1:$port/metrics" 2>/dev/null); then
    grep -E '^(jobs_finished_total|duplicate_skips_total|acquire_conflicts_total|retry_attempts_total|recovered_jobs_total|heartbeats_total|outbox_published_total|worker_job_slots|cancellations_total|operator_actions_total)' <<<"$metrics" \
      | grep -v ' 0$' | sed 's/otel_scope_name="Consumers",//' | head -30 || true  # head may close the pipe early
    break
  fi
done

# ---- 9. leave it tidy -------------------------------------------------------------------------------
step "Stopping the workers with SIGTERM (they drain and exit 0)"
for f in "$DEMO_DIR"/logs/*.pid; do
  pid=$(cat "$f"); kill -TERM "$pid" 2>/dev/null || true
done
for f in "$DEMO_DIR"/logs/*.pid; do
  pid=$(cat "$f"); while pid_alive "$pid"; do sleep 0.2; done
done
DEMO_COMPLETE=1
if [[ "$KEEP_DASHBOARD" == 1 ]]; then
  DASHBOARD_LINE="http://127.0.0.1:$ADMIN_PORT/   (operator key $ADMIN_KEY; still running, stop it with: kill $ADMIN_PID)"
else
  DASHBOARD_LINE="stopped on exit (DEMO_KEEP_DASHBOARD=0)"
fi

cat <<EOT

${_c_ok}Done.${_c_off}
  RabbitMQ management UI  $CONSUMERS_RABBIT_MGMT   (login $CONSUMERS_RABBIT_USER / $CONSUMERS_RABBIT_PASS, virtual host '$DEMO_VHOST':
                          queues consumers.jobs and consumers.jobs.transcode, exchange consumers.timeline)
  Artifacts               $DEMO_DIR/artifacts
  Worker logs             $DEMO_DIR/logs
  Dashboard               $DASHBOARD_LINE
  Look again              ${CONSUMERS[*]} list      (with the Consumers__ variables above, or --set)
  Left in place           database '$DEMO_DB' and virtual host '$DEMO_VHOST' (the next run recreates them); to drop them:
                          PGPASSWORD=... $PG_BIN/psql -h $CONSUMERS_PG_HOST -p $CONSUMERS_PG_PORT -U $CONSUMERS_DB_USER -d postgres -c 'DROP DATABASE $DEMO_DB WITH (FORCE)'
                          curl -u $CONSUMERS_RABBIT_USER:... -X DELETE $CONSUMERS_RABBIT_MGMT/api/vhosts/$DEMO_VHOST
  The stack keeps running; stop it with: scripts/stack.sh down
EOT
