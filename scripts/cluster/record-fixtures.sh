#!/usr/bin/env bash
# Records what the real single-node SGE and SLURM print for every command
# saliflow runs or reads, into test/fixtures/{sge,slurm}/, so the parsers are
# tested on real output. Each case is three files: NAME.out (stdout),
# NAME.err (stderr), NAME.rc (exit code).
#
#   scripts/cluster/record-fixtures.sh [sge|slurm|both]    # clusters must be up (sge.sh start)
#
# Jobs are named fx_*, submitted from a temporary directory and cancelled at
# the end. The walltime cases wait for the scheduler to kill a job (SGE within
# seconds, SLURM's 30 s limit check), and squeue with an unreadable
# slurm.conf retries for 60 s, so a full run takes about two minutes.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
CLUSTER_NAME=fixtures
# shellcheck source=lib.sh
source "$here/lib.sh"
which=${1:-both}

# record DIR NAME CMD...: runs CMD, keeps its stdout, stderr and exit code.
record() {
  local dir=$1 name=$2 rc=0
  shift 2
  "$@" >"$dir/$name.out" 2>"$dir/$name.err" || rc=$?
  echo "$rc" >"$dir/$name.rc"
}

# A case that is the first BYTES of another case's output: a reply cut short.
truncated() {
  local dir=$1 name=$2 from=$3 bytes=$4
  head -c "$bytes" "$dir/$from.out" >"$dir/$name.out"
  : >"$dir/$name.err"
  echo 0 >"$dir/$name.rc"
}

work=$(mktemp -d /tmp/saliflow-fixtures.XXXXXX)
chmod 755 "$work"
printf '#!/bin/sh\nexit 3\n' >"$work/exit3.sh"
printf '#!/bin/sh\nexit $((${SGE_TASK_ID:-$SLURM_ARRAY_TASK_ID} - 1))\n' >"$work/array.sh"
printf '#!/bin/sh\nsleep "$1"\n' >"$work/sleep.sh"
# One line of 200 MB: tail must hold it, beyond the job's h_vmem.
printf '#!/bin/sh\nhead -c 200000000 /dev/zero | tail -n 1 >/dev/null\n' >"$work/memory.sh"
cleanup_ids=()
trap 'cleanup; rm -rf "$work"' EXIT

record_sge() {
  eval "$("$here/sge.sh" env)"
  local dir=$repo/test/fixtures/sge id
  mkdir -p "$dir"
  cd "$work"
  local later=203001010000
  qsub() { command qsub -cwd -S /bin/sh -o /dev/null -e /dev/null "$@"; }

  record "$dir" qsub-plain qsub -terse -N fx_ok -b y true
  record "$dir" qsub-array qsub -terse -N fx_array_done -t 1-2 array.sh
  record "$dir" qsub-refused qsub -terse -N fx_refused -l fx_no_such_resource=1 -b y true
  record "$dir" qsub-unreachable env SGE_CELL=fx_no_such_cell qsub -terse -N fx_unreachable -b y true
  # qacct is asked by id: names repeat each time the fixtures are recorded.
  local -A ids=([ok]=$(cat "$dir/qsub-plain.out") [array_done]=$(cut -d. -f1 "$dir/qsub-array.out"))
  ids[exit3]=$(qsub -terse -N fx_exit3 exit3.sh)
  ids[walltime]=$(qsub -terse -N fx_walltime -l h_rt=0:0:2 sleep.sh 60)
  ids[memory]=$(qsub -terse -N fx_memory -l h_vmem=50M memory.sh)
  id=$(qsub -terse -N fx_killed sleep.sh 60)
  cleanup_ids+=("sge:$id")
  local killed=$id
  ids[killed]=$id
  id=$(qsub -terse -N fx_running sleep.sh 120)
  cleanup_ids+=("sge:$id")
  local running=$id
  id=$(qsub -terse -N fx_pending -a "$later" -b y true)
  cleanup_ids+=("sge:$id")
  id=$(qsub -terse -N fx_held -h -b y true)
  cleanup_ids+=("sge:$id")
  id=$(qsub -terse -N fx_array_pending -a "$later" -t 1-3 -b y true)
  cleanup_ids+=("sge:${id%%.*}")

  running() { command qstat -xml | grep -A3 "<JB_name>$1</JB_name>" | grep -q '<state>r</state>'; }
  wait_until 60 "fx_killed running" running fx_killed || log "fx_killed never ran (recording anyway)"
  wait_until 60 "fx_running running" running fx_running || log "fx_running never ran (recording anyway)"
  record "$dir" qstat-mixed command qstat -xml -u '*'
  record "$dir" qstat-error env SGE_CELL=fx_no_such_cell qstat -xml -u '*'
  truncated "$dir" qstat-truncated qstat-mixed 700

  record "$dir" qdel-running command qdel "$killed"
  record "$dir" qdel-unknown command qdel 999999

  # Running array tasks are listed one per task: free both slots first.
  command qdel "$running" >/dev/null 2>&1 || true
  id=$(qsub -terse -N fx_array_running -t 1-2 sleep.sh 120)
  cleanup_ids+=("sge:${id%%.*}")
  two_tasks() { [[ $(command qstat -xml | grep -A4 '<JB_name>fx_array_running</JB_name>' | grep -c '<state>r</state>') -ge 2 ]]; }
  wait_until 60 "fx_array_running tasks running" two_tasks || log "array tasks not running (recording anyway)"
  record "$dir" qstat-array-running command qstat -xml -u '*'
  command qdel "${id%%.*}" >/dev/null 2>&1 || true

  accounted() { command qacct -j "$1" >/dev/null 2>&1; }
  for name in ok exit3 killed walltime memory array_done; do
    wait_until 90 "fx_$name in qacct" accounted "${ids[$name]}" || log "fx_$name has no qacct record (recording anyway)"
    record "$dir" "qacct-$name" command qacct -j "${ids[$name]}"
  done
  record "$dir" qacct-unknown command qacct -j fx_no_such_job
  record "$dir" qstat-empty command qstat -xml -u fx_nobody
  log "sge fixtures in $dir"
}

record_slurm() {
  eval "$("$here/slurm.sh" env)"
  local dir=$repo/test/fixtures/slurm id ids=()
  mkdir -p "$dir"
  cd "$work"
  sbatch() { command sbatch --parsable -o /dev/null -e /dev/null --chdir="$work" "$@"; }
  fields='%i|%F|%T|%j|%r'

  record "$dir" sbatch-plain sbatch -J fx_ok --wrap true
  ids+=("$(cat "$dir/sbatch-plain.out")")
  record "$dir" sbatch-array sbatch -J fx_array_done -a 1-2 array.sh
  ids+=("$(cat "$dir/sbatch-array.out")")
  record "$dir" sbatch-refused sbatch -J fx_refused -p fx_no_such_partition --wrap true
  id=$(sbatch -J fx_exit3 exit3.sh) && ids+=("$id")
  local exit3=$id
  id=$(sbatch -J fx_walltime --time=0:02 sleep.sh 120) && ids+=("$id")
  local walltime=$id
  id=$(sbatch -J fx_killed sleep.sh 60) && ids+=("$id") && cleanup_ids+=("slurm:$id")
  local killed=$id
  id=$(sbatch -J fx_running sleep.sh 120) && ids+=("$id") && cleanup_ids+=("slurm:$id")
  id=$(sbatch -J fx_pending --begin=now+1hour --wrap true) && ids+=("$id") && cleanup_ids+=("slurm:$id")
  local pending=$id
  id=$(sbatch -J fx_held -H --wrap true) && ids+=("$id") && cleanup_ids+=("slurm:$id")
  local held=$id
  id=$(sbatch -J fx_array_pending --begin=now+1hour -a 1-3 --wrap true) && ids+=("$id") && cleanup_ids+=("slurm:$id")

  state_of() { command squeue -h -j "$1" -o %T 2>/dev/null | head -1; }
  is_state() { [[ $(state_of "$1") == "$2" ]]; }
  wait_until 60 "fx_killed running" is_state "$killed" RUNNING || log "fx_killed never ran (recording anyway)"
  record "$dir" scancel-running command scancel "$killed"
  gone() { [[ -z $(command squeue -h -j "$1" -t PENDING,RUNNING,COMPLETING -o %T 2>/dev/null) ]]; }
  wait_until 60 "fx_exit3 ended" gone "$exit3" || true
  wait_until 60 "fx_killed ended" gone "$killed" || true
  wait_until 100 "fx_walltime killed" gone "$walltime" || log "fx_walltime not killed yet (recording anyway)"
  wait_until 30 "array ended" gone "$(head -1 "$dir/sbatch-array.out")" || true

  local list
  list=$(IFS=,; echo "${ids[*]}")
  record "$dir" squeue-mixed command squeue -h -t all -o "$fields" -j "$list"
  record "$dir" squeue-unknown command squeue -h -t all -o "$fields" -j 99999999
  record "$dir" squeue-some-unknown command squeue -h -t all -o "$fields" -j "$pending,99999999"
  record "$dir" squeue-error env SLURM_CONF=/nonexistent/slurm.conf squeue -h -t all -o "$fields" -j "$list"
  truncated "$dir" squeue-truncated squeue-mixed 40

  record "$dir" scontrol-ok command scontrol -o show job "$(cat "$dir/sbatch-plain.out")"
  record "$dir" scontrol-exit3 command scontrol -o show job "$exit3"
  record "$dir" scontrol-killed command scontrol -o show job "$killed"
  record "$dir" scontrol-walltime command scontrol -o show job "$walltime"
  record "$dir" scontrol-held command scontrol -o show job "$held"
  record "$dir" scontrol-array command scontrol -o show job "$(cat "$dir/sbatch-array.out")"
  record "$dir" scontrol-unknown command scontrol -o show job 99999999
  record "$dir" sacct-disabled command sacct -n -P -j "$exit3" -o JobID,JobName,State,ExitCode
  record "$dir" scancel-unknown command scancel 99999999

  local jobcomp=$SALIFLOW_SLURM_JOBCOMP
  grep -E ' Name=fx_(ok|exit3|killed|walltime|array_done) ' "$jobcomp" | tail -n 6 >"$dir/jobcomp.out" || true
  : >"$dir/jobcomp.err"
  echo 0 >"$dir/jobcomp.rc"
  log "slurm fixtures in $dir"
}

cleanup() {
  local entry
  for entry in "${cleanup_ids[@]}"; do
    case $entry in
      sge:*) command qdel "${entry#sge:}" >/dev/null 2>&1 || true ;;
      slurm:*) command scancel "${entry#slurm:}" >/dev/null 2>&1 || true ;;
    esac
  done
}

case $which in
  sge) record_sge ;;
  slurm) record_slurm ;;
  both)
    record_sge
    record_slurm
    ;;
  *)
    echo "usage: $0 [sge|slurm|both]" >&2
    exit 2
    ;;
esac
