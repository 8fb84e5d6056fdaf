#!/usr/bin/env bash
# Single-node Son of Grid Engine (Debian gridengine 8.1.9) for development
# and integration tests: qmaster + execd on this host, one queue all.q.
#
#   sge.sh start    install if needed, configure, start, prove a job runs
#   sge.sh status   exit 0 and print details when the cluster can run jobs
#   sge.sh stop     stop both daemons, remove stale pid files
#   sge.sh env      print `export` lines for a runner configuration
#
# Facts this relies on (hostname alias, min_uid, slow defaults) are in
# /work/shared/CLUSTERS.md and scripts/cluster/README.md.
set -euo pipefail

CLUSTER_NAME=sge
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib.sh"

HOST=$(hostname)
export SGE_ROOT=/var/lib/gridengine
export SGE_CELL=default
COMMON_DIR=$SGE_ROOT/$SGE_CELL/common
ACCOUNTING_FILE=$COMMON_DIR/accounting
QMASTER_SPOOL=/var/spool/gridengine/qmaster
QMASTER_LOG=$QMASTER_SPOOL/messages
# execd names its spool folder after its own reverse-resolved name, which on
# these machines is `localhost`, not the hostname.
EXECD_SPOOL=/var/spool/gridengine/execd/localhost
[[ -d /var/spool/gridengine/execd/$HOST ]] && EXECD_SPOOL=/var/spool/gridengine/execd/$HOST
EXECD_LOG=$EXECD_SPOOL/messages
QUEUE=all.q
PACKAGES=(gridengine-master gridengine-exec gridengine-client)
JOB_TIMEOUT=60

# Set by configure_cluster when a change only takes effect in a fresh execd.
EXECD_NEEDS_RESTART=0

# ---------------------------------------------------------------- install

# Without preseeding, the packages ask (or silently skip) cluster creation;
# with it, postinst runs init_cluster so bootstrap and the spool exist.
preseed_debconf() {
  local pkg
  for pkg in gridengine-common gridengine-client gridengine-master gridengine-exec; do
    printf '%s shared/gridengineconfig boolean true\n%s shared/gridenginecell string %s\n%s shared/gridenginemaster string %s\n' \
      "$pkg" "$pkg" "$SGE_CELL" "$pkg" "$HOST"
  done >"$WORK/debconf"
  # The debconf database is locked while any other apt install runs (the
  # SLURM script's, for one): retry instead of failing.
  for _ in $(seq 150); do
    debconf-set-selections "$WORK/debconf" 2>/dev/null && return 0
    sleep 2
  done
  die "could not preseed debconf for gridengine: its database stayed locked for 300 s" \
    "wait for the other apt/dpkg run to finish, then: $0 start"
}

install_packages() {
  if [[ -n $(missing_packages "${PACKAGES[@]}") ]]; then
    take_apt_lock
    preseed_debconf
    apt_install_missing "${PACKAGES[@]}"
    release_apt_lock
  fi
  [[ -f $COMMON_DIR/bootstrap ]] ||
    die "gridengine is installed but $COMMON_DIR/bootstrap is missing (cluster was never initialised)" \
      "purge and reinstall: apt-get purge -y ${PACKAGES[*]} gridengine-common && $0 start"
}

# /etc/hosts maps the hostname to 127.0.0.1, which reverse-resolves to
# `localhost`; without an alias qmaster names itself localhost and refuses
# every client. Returns 0 when a file changed (a running qmaster must restart).
write_hostname_files() {
  local changed=1
  if [[ $(cat "$COMMON_DIR/host_aliases" 2>/dev/null) != "$HOST localhost" ]]; then
    echo "$HOST localhost" >"$COMMON_DIR/host_aliases"
    changed=0
  fi
  if [[ $(cat "$COMMON_DIR/act_qmaster" 2>/dev/null) != "$HOST" ]]; then
    echo "$HOST" >"$COMMON_DIR/act_qmaster"
    changed=0
  fi
  chown sgeadmin:sgeadmin "$COMMON_DIR/host_aliases" "$COMMON_DIR/act_qmaster"
  return $changed
}

# ---------------------------------------------------------------- daemons

qmaster_answers() { qconf -sh >/dev/null 2>&1; }
qmaster_settled() { qmaster_answers || is_stopped sge_qmaster; }

start_qmaster() {
  if is_running sge_qmaster; then
    wait_until 20 "the running qmaster to answer" qmaster_answers ||
      die "sge_qmaster (pid $(live_pids sge_qmaster)) runs but does not answer qconf" \
        "read $QMASTER_LOG, then restart it: $0 stop && $0 start"
    return 0
  fi
  log "starting sge_qmaster"
  rm -f "$QMASTER_SPOOL/qmaster.pid"
  spawn /usr/sbin/sge_qmaster ||
    die "sge_qmaster failed to start" "$(last_lines "$QMASTER_LOG")" \
      "if qmaster died before opening its spool, read /tmp/qmaster_messages"
  wait_until 20 "qmaster to answer qconf or exit" qmaster_settled
  is_running sge_qmaster || die "sge_qmaster exited right after starting" "$(last_lines "$QMASTER_LOG")" \
    "if qmaster died before opening its spool, read /tmp/qmaster_messages"
  qmaster_answers || die "sge_qmaster runs but does not answer clients after 20 s" "$(last_lines "$QMASTER_LOG")" \
    "a 'not identical to clients host name' error means $COMMON_DIR/host_aliases is wrong"
}

start_execd() {
  if is_running sge_execd; then return 0; fi
  log "starting sge_execd"
  rm -f "$EXECD_SPOOL/execd.pid"
  spawn /usr/sbin/sge_execd ||
    die "sge_execd failed to start" "$(last_lines "$EXECD_LOG")" \
      "if it died before reaching its spool, read /tmp/execd_messages.*"
}

stop_execd() {
  is_running sge_execd || return 0
  log "stopping sge_execd"
  # qconf -ke asks execd to exit and leaves running jobs alone; fall back to
  # a signal when qmaster is not there to pass the message on.
  if qmaster_answers; then qconf -ke "$HOST" >/dev/null 2>&1 || true; fi
  wait_until 10 "sge_execd to exit" is_stopped sge_execd ||
    terminate sge_execd 10 ||
    die "sge_execd (pid $(live_pids sge_execd)) does not exit" "kill it by pid, then read $EXECD_LOG"
}

stop_qmaster() {
  is_running sge_qmaster || return 0
  log "stopping sge_qmaster (takes ~10 s: it flushes its Berkeley DB spool)"
  qconf -km >/dev/null 2>&1 || true
  wait_until 30 "sge_qmaster to exit" is_stopped sge_qmaster ||
    terminate sge_qmaster 10 ||
    die "sge_qmaster (pid $(live_pids sge_qmaster)) does not exit" "kill it by pid, then read $QMASTER_LOG"
}

# ---------------------------------------------------------------- configuration

# Print a qconf listing with continuation lines (`\` + newline) joined, so
# each attribute is on one line and can be compared or rewritten.
qconf_flat() { qconf "$@" | sed -e ':a' -e '/\\$/{N;s/[[:space:]]*\\\n[[:space:]]*/ /;ba}'; }

# set_attrs FILE KEY VALUE...: rewrite the listed attributes in a qconf file.
set_attrs() {
  local file=$1
  shift
  while (($#)); do
    # Only touch lines whose value differs, so an unchanged file compares equal.
    awk -v k="$1" -v v="$2" '
      $1 == k { cur = $0; sub(/^[^ \t]+[ \t]+/, "", cur); if (cur != v) { printf "%-30s %s\n", k, v; next } }
      { print }' "$file" >"$file.new"
    mv "$file.new" "$file"
    shift 2
  done
}

ensure_hosts() {
  # The host must be admin host (qconf from here) and submit host (qsub).
  qconf -sh 2>/dev/null | grep -qx "$HOST" || run "adding admin host" qconf -ah "$HOST"
  qconf -ss 2>/dev/null | grep -qx "$HOST" || run "adding submit host" qconf -as "$HOST"
  if ! qconf -se "$HOST" >/dev/null 2>&1; then
    printf '%s\n' "hostname $HOST" "load_scaling NONE" "complex_values NONE" "user_lists NONE" \
      "xuser_lists NONE" "projects NONE" "xprojects NONE" "usage_scaling NONE" "report_variables NONE" >"$WORK/exechost"
    run "adding exec host" qconf -Ae "$WORK/exechost"
  fi
  if ! qconf -shgrp @allhosts >/dev/null 2>&1; then
    printf 'group_name @allhosts\nhostlist %s\n' "$HOST" >"$WORK/allhosts"
    run "adding host group @allhosts" qconf -Ahgrp "$WORK/allhosts"
  fi
}

ensure_global_config() {
  # qconf -Mconf only accepts a file named after the configuration: "global".
  mkdir -p "$WORK/conf"
  qconf_flat -sconf global | grep -v '^#' >"$WORK/conf/global"
  cp "$WORK/conf/global" "$WORK/global.before"
  # min_uid/min_gid 0: tests and the dev backend submit as root.
  # accounting_flush_time 0 and flush_time 1 s: qacct sees a job ~1 s after it ends.
  set_attrs "$WORK/conf/global" \
    min_uid 0 min_gid 0 \
    reporting_params "accounting=true reporting=false flush_time=00:00:01 joblog=false sharelog=00:00:00 accounting_flush_time=00:00:00"
  if ! cmp -s "$WORK/conf/global" "$WORK/global.before"; then
    log "updating global configuration (min_uid/min_gid 0, fast accounting)"
    run "updating the global configuration" qconf -Mconf "$WORK/conf/global"
    # A running execd keeps the uid limits it started with; jobs would fail
    # and put the queue in error state.
    EXECD_NEEDS_RESTART=1
  fi
}

ensure_scheduler_config() {
  qconf_flat -ssconf >"$WORK/sconf"
  cp "$WORK/sconf" "$WORK/sconf.before"
  # Default is a 15 s scheduling cycle; 1 s plus flush on submit/finish gets
  # a trivial job through in about a second. No load adjustments: on a
  # 2-core box they would hold back the second job for minutes.
  set_attrs "$WORK/sconf" \
    schedule_interval 0:0:1 flush_submit_sec 1 flush_finish_sec 1 \
    job_load_adjustments NONE load_adjustment_decay_time 0:0:0
  cmp -s "$WORK/sconf" "$WORK/sconf.before" || run "updating the scheduler configuration" qconf -Msconf "$WORK/sconf"
}

ensure_queue() {
  # qconf -Aq/-Mq want every attribute. load_thresholds NONE: the box is
  # shared and busy; the default np_load_avg=1.75 would put the queue in
  # alarm state and stop scheduling. pe_list NONE: no PEs are defined.
  cat >"$WORK/queue" <<EOF
qname                 $QUEUE
hostlist              @allhosts
seq_no                0
load_thresholds       NONE
suspend_thresholds    NONE
nsuspend              1
suspend_interval      00:05:00
priority              0
min_cpu_interval      00:05:00
processors            UNDEFINED
qtype                 BATCH INTERACTIVE
ckpt_list             NONE
pe_list               NONE
rerun                 FALSE
slots                 $(nproc)
tmpdir                /tmp
shell                 /bin/sh
prolog                NONE
epilog                NONE
shell_start_mode      posix_compliant
starter_method        NONE
suspend_method        NONE
resume_method         NONE
terminate_method      NONE
notify                00:00:60
owner_list            NONE
user_lists            NONE
xuser_lists           NONE
subordinate_list      NONE
complex_values        NONE
projects              NONE
xprojects             NONE
calendar              NONE
initial_state         default
s_rt                  INFINITY
h_rt                  INFINITY
s_cpu                 INFINITY
h_cpu                 INFINITY
s_fsize               INFINITY
h_fsize               INFINITY
s_data                INFINITY
h_data                INFINITY
s_stack               INFINITY
h_stack               INFINITY
s_core                INFINITY
h_core                INFINITY
s_rss                 INFINITY
h_rss                 INFINITY
s_vmem                INFINITY
h_vmem                INFINITY
EOF
  if ! qconf -sq "$QUEUE" >/dev/null 2>&1; then
    log "creating queue $QUEUE ($(nproc) slots)"
    run "creating queue $QUEUE" qconf -Aq "$WORK/queue"
  elif ! diff -q <(qconf -sq "$QUEUE" | awk '{$1=$1; print}') <(awk '{$1=$1; print}' "$WORK/queue") >/dev/null; then
    log "updating queue $QUEUE"
    run "updating queue $QUEUE" qconf -Mq "$WORK/queue"
  fi
}

configure_cluster() {
  ensure_hosts
  ensure_global_config
  ensure_scheduler_config
  ensure_queue
}

# ---------------------------------------------------------------- health

# State letters of the queue instance on this host; empty means healthy.
# -NA- load or `u` means execd has not reported (yet).
queue_state() {
  qstat -f -q "$QUEUE@$HOST" 2>/dev/null | awk -v q="$QUEUE@$HOST" '$1 == q { print ($6 == "" ? "ok" : $6) }'
}
queue_ok() { [[ $(queue_state) == ok ]]; }
queue_settled() { queue_ok || is_stopped sge_execd; }

# Bring the queue instance back to a usable state: E (a job failed to start,
# e.g. the old min_uid) and d (disabled) survive daemon restarts.
repair_queue() {
  local state
  state=$(queue_state)
  [[ $state == *E* ]] && { log "clearing error state of $QUEUE"; run "clearing the error state" qmod -cq "$QUEUE"; }
  [[ $state == *d* ]] && { log "enabling $QUEUE"; run "enabling the queue" qmod -e "$QUEUE"; }
  wait_until 30 "$QUEUE@$HOST to report without error/alarm/unknown state, or execd to exit" queue_settled
  is_running sge_execd || die "sge_execd exited after starting" "$(last_lines "$EXECD_LOG")" \
    "if it died before reaching its spool, read /tmp/execd_messages.*"
  queue_ok ||
    die "queue $QUEUE@$HOST is in state '$(queue_state)'" \
      "qstat -f -explain aAcE shows why; read $EXECD_LOG and $QMASTER_LOG"
}

job_gone() { ! qstat -j "$1" >/dev/null 2>&1; }
in_accounting() { qacct -j "$1" >/dev/null 2>&1; }

# Submit `true`, wait until it leaves qstat and shows up in qacct with exit 0.
health_check() {
  local id t0 state exit_status
  t0=$(now_ms)
  id=$(qsub -terse -b y -N saliflow-health -wd "$WORK" -o /dev/null -e /dev/null true) ||
    die "qsub refused the health-check job" "read $QMASTER_LOG"
  local deadline=$((SECONDS + JOB_TIMEOUT))
  until job_gone "$id"; do
    state=$(qstat | awk -v id="$id" '$1 == id { print $5 }')
    [[ $state == *E* ]] && die "health-check job $id is in error state $state" "qstat -j $id | grep error" "read $EXECD_LOG"
    ((SECONDS < deadline)) || die "health-check job $id still in qstat after ${JOB_TIMEOUT}s (state '$state')" \
      "qstat -j $id shows scheduling info; read $QMASTER_LOG"
    sleep 0.1
  done
  HEALTH_MS=$(($(now_ms) - t0))
  wait_until 15 "job $id in $ACCOUNTING_FILE" in_accounting "$id" ||
    die "job $id finished but is not in accounting" "read $QMASTER_LOG; check reporting_params in qconf -sconf"
  exit_status=$(qacct -j "$id" | awk '$1 == "exit_status" { print $2 }')
  [[ $exit_status == 0 ]] ||
    die "health-check job $id (true) ended with exit_status $exit_status" "qacct -j $id; read $EXECD_LOG"
}

# Quiet checks behind `status` and the no-op `start`. Prints the first
# problem found on stdout; returns non-zero when there is one.
problem() {
  is_running sge_qmaster || { echo "sge_qmaster is not running"; return 1; }
  qmaster_answers || { echo "sge_qmaster runs but does not answer (see $QMASTER_LOG)"; return 1; }
  is_running sge_execd || { echo "sge_execd is not running"; return 1; }
  [[ $(qconf -sconf global 2>/dev/null | awk '$1 == "min_uid" { print $2 }') == 0 ]] ||
    { echo "global config still refuses root jobs (min_uid != 0)"; return 1; }
  local state
  state=$(queue_state)
  [[ -n $state ]] || { echo "queue $QUEUE@$HOST does not exist"; return 1; }
  [[ $state == ok ]] || { echo "queue $QUEUE@$HOST is in state '$state' (u=execd not reporting, E=error, a=alarm, d=disabled)"; return 1; }
}

# ---------------------------------------------------------------- commands

cmd_status() {
  local why
  if why=$(problem); then
    echo "sge up: qmaster $HOST (pid $(live_pids sge_qmaster | head -1)), execd pid $(live_pids sge_execd | head -1), queue $QUEUE@$HOST $(qstat -f -q "$QUEUE@$HOST" | awk -v q="$QUEUE@$HOST" '$1 == q { print "slots (resv/used/total) " $3 }')"
  else
    echo "sge down: $why" >&2
    echo "  run: $0 start   (logs: $QMASTER_LOG, $EXECD_LOG)" >&2
    return 1
  fi
}

cmd_start() {
  require_root
  take_lock
  local t0
  t0=$(now_ms)
  if problem >/dev/null 2>&1; then
    echo "sge already up (checked in $(($(now_ms) - t0)) ms): queue $QUEUE@$HOST"
    return 0
  fi
  WORK=$(mktemp -d /tmp/saliflow-sge.XXXXXX)
  trap 'rm -rf "$WORK"' EXIT
  install_packages
  if write_hostname_files && is_running sge_qmaster; then
    log "hostname files changed: restarting qmaster"
    stop_execd
    stop_qmaster
  fi
  start_qmaster
  configure_cluster
  if ((EXECD_NEEDS_RESTART)); then stop_execd; fi
  start_execd
  repair_queue
  health_check
  echo "sge up in $(($(now_ms) - t0)) ms: queue $QUEUE@$HOST ($(nproc) slots), health-check job took ${HEALTH_MS} ms from qsub to leaving qstat"
}

cmd_stop() {
  require_root
  take_lock
  stop_execd
  stop_qmaster
  # Stale pid files would make the init scripts (or a purge) think a daemon runs.
  rm -f "$QMASTER_SPOOL/qmaster.pid" "$EXECD_SPOOL/execd.pid" /var/run/gridengine/*.pid
  echo "sge stopped"
}

cmd_env() {
  # SGE_ROOT/SGE_CELL are read by the SGE clients themselves; the SALIFLOW_
  # names are for the runner configuration and cannot clash with SGE's own.
  local tool
  printf 'export SGE_ROOT=%q\nexport SGE_CELL=%q\n' "$SGE_ROOT" "$SGE_CELL"
  printf 'export SALIFLOW_SGE_QUEUE=%q\n' "$QUEUE"
  for tool in qsub qstat qacct qdel; do
    printf 'export SALIFLOW_SGE_%s=%q\n' "${tool^^}" "$(command -v "$tool" || echo "/usr/bin/$tool")"
  done
  printf 'export SALIFLOW_SGE_ACCOUNTING=%q\n' "$ACCOUNTING_FILE"
}

case ${1:-} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *)
    echo "usage: $0 {start|stop|status|env}" >&2
    exit 2
    ;;
esac
