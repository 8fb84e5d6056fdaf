#!/usr/bin/env bash
# Single-node SLURM 22.05 (Debian) with munge for development and
# integration tests: munged + slurmctld + slurmd on this host, one partition.
#
#   slurm.sh start    install if needed, configure, start, prove a job runs
#   slurm.sh status   exit 0 and print details when the cluster can run jobs
#   slurm.sh stop     stop the daemons, remove stale pid files
#   slurm.sh env      print `export` lines for a runner configuration
#
# Facts this relies on are in /work/shared/CLUSTERS.md and
# scripts/cluster/README.md.
set -euo pipefail

CLUSTER_NAME=slurm
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib.sh"

HOST=$(hostname)
PARTITION=main
SLURM_CONF=/etc/slurm/slurm.conf
CTLD_LOG=/var/log/slurm/slurmctld.log
SLURMD_LOG=/var/log/slurm/slurmd.log
JOBCOMP_FILE=/var/log/slurm/jobcomp.log
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid
MUNGE_DIR=/run/munge
MUNGE_KEY=/etc/munge/munge.key
MUNGE_LOG=/var/log/munge/munged.log
PACKAGES=(slurmctld slurmd slurm-client munge)
JOB_TIMEOUT=60

# ---------------------------------------------------------------- install

install_packages() {
  [[ -n $(missing_packages "${PACKAGES[@]}") ]] || return 0
  take_apt_lock
  apt_install_missing "${PACKAGES[@]}"
  release_apt_lock
}

# ---------------------------------------------------------------- munge

ensure_munge_files() {
  # /run is a tmpfs that nothing recreates without systemd.
  install -d -o munge -g munge -m 0755 "$MUNGE_DIR"
  if [[ ! -s $MUNGE_KEY ]]; then
    log "creating $MUNGE_KEY"
    mungekey --create --keyfile="$MUNGE_KEY" >/dev/null 2>&1 ||
      dd if=/dev/urandom of="$MUNGE_KEY" bs=1 count=1024 status=none
  fi
  # munged refuses to start when the key is readable by anyone else.
  chown munge:munge "$MUNGE_KEY"
  chmod 0400 "$MUNGE_KEY"
}

munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
  is_running munged && munge_works && return 0
  terminate munged 5 || true
  log "starting munged"
  rm -f "$MUNGE_DIR/munged.pid" "$MUNGE_DIR"/munge.socket.*
  spawn runuser -u munge -- /usr/sbin/munged ||
    die "munged failed to start" "$(last_lines "$MUNGE_LOG")" "check owner/mode of $MUNGE_KEY (munge:munge 0400) and $MUNGE_DIR"
  wait_until 10 "munge credentials to round-trip" munge_works ||
    die "munged runs but 'munge -n | unmunge' fails" "read $MUNGE_LOG"
}

# ---------------------------------------------------------------- configuration

# The node line comes from the hardware slurmd sees. RealMemory is rounded
# down to 90%: if slurmd ever reports less than configured, the node drains.
node_line() {
  slurmd -C | head -1 | awk '{
    for (i = 1; i <= NF; i++) if ($i ~ /^RealMemory=/) { split($i, kv, "="); $i = "RealMemory=" int(kv[2] * 0.9) }
    print $0, "State=UNKNOWN"
  }'
}

render_config() {
  cat <<EOF
# Written by scripts/cluster/slurm.sh: single-node development cluster.
ClusterName=saliflow
SlurmctldHost=$HOST
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
# No cgroups in this sandbox: track processes by /proc, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# No slurmdbd, so no sacct: exit codes come from scontrol (for MinJobAge
# seconds) and, permanently, from the jobcomp text file.
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$JOBCOMP_FILE
MinJobAge=300
# Schedule at submit time instead of batching: ~1 s per trivial job, not 3 s.
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
# Cores are the consumable; with memory consumable too, a job without --mem
# takes the whole node and array tasks would run one at a time.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# A node that was down comes back by itself once slurmd registers.
ReturnToService=2
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$CTLD_LOG
SlurmdLogFile=$SLURMD_LOG
$(node_line)
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
}

config_current() { [[ -f $SLURM_CONF && $(cat "$SLURM_CONF") == "$(render_config 2>/dev/null)" ]]; }

# Returns 0 when slurm.conf changed (running daemons must restart to see it).
write_config() {
  local new
  new=$(render_config) || die "could not render slurm.conf ('slurmd -C' failed)" "run: slurmd -C"
  if [[ -f $SLURM_CONF && $(cat "$SLURM_CONF") == "$new" ]]; then return 1; fi
  log "writing $SLURM_CONF"
  printf '%s\n' "$new" >"$SLURM_CONF"
  install -d -o slurm -g slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
  return 0
}

# ---------------------------------------------------------------- daemons

ctld_answers() { scontrol ping 2>/dev/null | grep -q 'is UP'; }
ctld_settled() { ctld_answers || is_stopped slurmctld; }

start_slurmctld() {
  if is_running slurmctld; then
    wait_until 20 "the running slurmctld to answer" ctld_answers ||
      die "slurmctld (pid $(live_pids slurmctld)) runs but does not answer 'scontrol ping'" \
        "read $CTLD_LOG, then restart it: $0 stop && $0 start"
    return 0
  fi
  log "starting slurmctld"
  rm -f "$CTLD_PID"
  spawn /usr/sbin/slurmctld || die "slurmctld failed to start" "$(last_lines "$CTLD_LOG")"
  wait_until 20 "slurmctld to answer or exit" ctld_settled
  is_running slurmctld || die "slurmctld exited right after starting" "$(last_lines "$CTLD_LOG")"
  ctld_answers || die "slurmctld runs but does not answer 'scontrol ping' after 20 s" "read $CTLD_LOG"
}

start_slurmd() {
  is_running slurmd && return 0
  log "starting slurmd"
  rm -f "$SLURMD_PID"
  spawn /usr/sbin/slurmd || die "slurmd failed to start" "$(last_lines "$SLURMD_LOG")"
}

slurm_daemons_stopped() { is_stopped slurmctld && is_stopped slurmd; }

stop_slurm_daemons() {
  if is_running slurmctld || is_running slurmd; then
    log "stopping slurmctld and slurmd"
    # `scontrol shutdown` stops the controller and every slurmd it knows of
    # in ~0.25 s; signals are the fallback when the controller is gone.
    if ctld_answers; then scontrol shutdown >/dev/null 2>&1 || true; fi
    wait_until 10 "slurmctld and slurmd to exit" slurm_daemons_stopped || true
    terminate slurmctld 10 || die "slurmctld (pid $(live_pids slurmctld)) does not exit" "kill it by pid; read $CTLD_LOG"
    terminate slurmd 10 || die "slurmd (pid $(live_pids slurmd)) does not exit" "kill it by pid; read $SLURMD_LOG"
  fi
  # slurmctld leaves its pid file behind, which later breaks `apt-get purge`.
  rm -f "$CTLD_PID" "$SLURMD_PID"
}

stop_munge() {
  is_running munged || { rm -f "$MUNGE_DIR/munged.pid"; return 0; }
  log "stopping munged"
  terminate munged 10 || die "munged (pid $(live_pids munged)) does not exit" "kill it by pid; read $MUNGE_LOG"
  rm -f "$MUNGE_DIR/munged.pid"
}

# ---------------------------------------------------------------- health

# Compact node state (idle, mix, alloc, down*, drain, ...); a trailing `*`
# means slurmd is not responding.
node_state() { sinfo -h -N -n "$HOST" -p "$PARTITION" -o '%t' 2>/dev/null | head -1; }
partition_avail() { sinfo -h -p "$PARTITION" -o '%a' 2>/dev/null | head -1; }
node_ok() { [[ $(node_state) =~ ^(idle|mix|alloc|comp)$ ]]; }

# Registered: slurmctld has heard from slurmd (no `*`, not unknown).
node_registered() {
  local state
  state=$(node_state)
  [[ -n $state && $state != *'*' && $state != unk* ]]
}

slurmd_settled() { node_registered || is_stopped slurmd; }

# Down/drained survives restarts (it is in the state save): resume the node
# and bring the partition up so jobs can be scheduled again.
repair_node() {
  [[ $(partition_avail) == up ]] || run "setting partition $PARTITION up" scontrol update PartitionName="$PARTITION" State=UP
  wait_until 20 "slurmd to register with slurmctld or exit" slurmd_settled
  is_running slurmd || die "slurmd exited after starting" "$(last_lines "$SLURMD_LOG")"
  node_registered ||
    die "slurmd does not register with slurmctld within 20 s (node $HOST is '$(node_state)')" \
      "read $SLURMD_LOG and $CTLD_LOG; a munge error there means munged or $MUNGE_KEY is broken"
  if [[ $(node_state) =~ ^(down|drain|drng|fail|inval) ]]; then
    log "node $HOST is $(node_state) ($(sinfo -h -N -n "$HOST" -o '%E')), resuming it"
    run "resuming node $HOST" scontrol update NodeName="$HOST" State=RESUME
  fi
  wait_until 30 "node $HOST to become usable" node_ok ||
    die "node $HOST is in state '$(node_state)' (reason: $(sinfo -h -N -n "$HOST" -o '%E'))" \
      "read $SLURMD_LOG and $CTLD_LOG"
}

job_field() { scontrol -o show job "$1" 2>/dev/null | grep -o "$2=[^ ]*" | cut -d= -f2-; }
job_gone() { [[ -z $(squeue -h -j "$1" 2>/dev/null) ]]; }

# Submit `true`, wait until it leaves squeue and check it COMPLETED with 0:0.
health_check() {
  local id t0 state
  t0=$(now_ms)
  id=$(sbatch --parsable -J saliflow-health -p "$PARTITION" --chdir "$WORK" -o /dev/null -e /dev/null --wrap true 2>"$WORK/sbatch.err") ||
    die "sbatch refused the health-check job: $(cat "$WORK/sbatch.err")" "read $CTLD_LOG"
  wait_until "$JOB_TIMEOUT" "health-check job $id to leave squeue" job_gone "$id" ||
    die "health-check job $id still queued after ${JOB_TIMEOUT}s: $(squeue -h -j "$id" -o '%T %R')" \
      "read $CTLD_LOG and $SLURMD_LOG"
  HEALTH_MS=$(($(now_ms) - t0))
  state=$(job_field "$id" JobState)
  [[ $state == COMPLETED && $(job_field "$id" ExitCode) == 0:0 ]] ||
    die "health-check job $id (true) ended as $state, ExitCode $(job_field "$id" ExitCode)" \
      "scontrol show job $id; read $SLURMD_LOG"
}

# Quiet checks behind `status` and the no-op `start`: print the first problem.
problem() {
  is_running munged || { echo "munged is not running"; return 1; }
  is_running slurmctld || { echo "slurmctld is not running"; return 1; }
  ctld_answers || { echo "slurmctld runs but 'scontrol ping' says it is not UP (see $CTLD_LOG)"; return 1; }
  is_running slurmd || { echo "slurmd is not running"; return 1; }
  [[ $(partition_avail) == up ]] || { echo "partition $PARTITION is '$(partition_avail)', not up"; return 1; }
  node_ok || { echo "node $HOST is in state '$(node_state)' (needs idle/mix/alloc; see $SLURMD_LOG)"; return 1; }
}

# ---------------------------------------------------------------- commands

cmd_status() {
  local why
  if why=$(problem); then
    echo "slurm up: slurmctld $HOST (pid $(live_pids slurmctld | head -1)), slurmd pid $(live_pids slurmd | head -1), partition $PARTITION node $HOST $(node_state) cpus $(sinfo -h -p "$PARTITION" -o '%C' | head -1) (alloc/idle/other/total)"
  else
    echo "slurm down: $why" >&2
    echo "  run: $0 start   (logs: $CTLD_LOG, $SLURMD_LOG, $MUNGE_LOG)" >&2
    return 1
  fi
}

cmd_start() {
  require_root
  take_lock
  local t0
  t0=$(now_ms)
  # Up and running the configuration this script would write: nothing to do.
  if config_current && problem >/dev/null 2>&1; then
    echo "slurm already up (checked in $(($(now_ms) - t0)) ms): partition $PARTITION"
    return 0
  fi
  WORK=$(mktemp -d /tmp/saliflow-slurm.XXXXXX)
  trap 'rm -rf "$WORK"' EXIT
  install_packages
  ensure_munge_files
  start_munge
  if write_config && { is_running slurmctld || is_running slurmd; }; then
    log "slurm.conf changed: restarting the daemons"
    stop_slurm_daemons
  fi
  start_slurmctld
  start_slurmd
  repair_node
  health_check
  echo "slurm up in $(($(now_ms) - t0)) ms: partition $PARTITION on $HOST ($(nproc) cpus), health-check job took ${HEALTH_MS} ms from sbatch to leaving squeue"
}

cmd_stop() {
  require_root
  take_lock
  stop_slurm_daemons
  stop_munge
  echo "slurm stopped"
}

cmd_env() {
  # SLURM_CONF is read by the SLURM clients; the SALIFLOW_ names are for the
  # runner configuration (SLURM_*/SBATCH_* names could change sbatch's behaviour).
  local tool
  printf 'export SLURM_CONF=%q\n' "$SLURM_CONF"
  printf 'export SALIFLOW_SLURM_PARTITION=%q\n' "$PARTITION"
  for tool in sbatch squeue scontrol scancel; do
    printf 'export SALIFLOW_SLURM_%s=%q\n' "${tool^^}" "$(command -v "$tool" || echo "/usr/bin/$tool")"
  done
  printf 'export SALIFLOW_SLURM_JOBCOMP=%q\n' "$JOBCOMP_FILE"
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
