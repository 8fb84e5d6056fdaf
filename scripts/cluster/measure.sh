#!/usr/bin/env bash
# Reproduce the timings in README.md: bring-up from stopped, no-op start,
# and submit -> gone-from-queue latency of a trivial job, for one cluster.
#
#   measure.sh sge|slurm [ROUNDS]
#
# Stops and restarts the cluster ROUNDS times (default 3): do not run it
# while someone relies on the cluster. Leaves the cluster running.
set -euo pipefail

CLUSTER=${1:?usage: $0 sge|slurm [ROUNDS]}
ROUNDS=${2:-3}
DIR=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
SCRIPT=$DIR/$CLUSTER.sh
[[ -x $SCRIPT ]] || { echo "no such cluster script: $SCRIPT" >&2; exit 2; }

ms() { date +%s%3N; }

# Time a command in ms, discarding its output.
timed() {
  local t0
  t0=$(ms)
  "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
  echo $(($(ms) - t0))
}

# One trivial job, from submission until the scheduler no longer lists it.
job_latency() {
  local t0 id
  t0=$(ms)
  if [[ $CLUSTER == sge ]]; then
    id=$(qsub -terse -b y -wd /tmp -o /dev/null -e /dev/null true)
    while qstat -j "$id" >/dev/null 2>&1; do sleep 0.05; done
  else
    id=$(sbatch --parsable --chdir /tmp -o /dev/null --wrap true)
    while [[ -n $(squeue -h -j "$id" 2>/dev/null) ]]; do sleep 0.05; done
  fi
  echo $(($(ms) - t0))
}

"$SCRIPT" start >/dev/null
for ((i = 1; i <= ROUNDS; i++)); do
  stop=$(timed "$SCRIPT" stop)
  start=$(timed "$SCRIPT" start)
  noop=$(timed "$SCRIPT" start)
  jobs=$(for _ in 1 2 3 4 5; do job_latency; done | tr '\n' ' ')
  echo "$CLUSTER round $i: stop ${stop} ms, start from stopped ${start} ms, no-op start ${noop} ms, job latency ms: ${jobs}"
done
