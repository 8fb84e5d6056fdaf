# Shared helpers for sge.sh and slurm.sh. Sourced, never run.
# shellcheck shell=bash

# Every message names the cluster so output from both scripts stays readable
# when they run side by side.
log() { printf '[%s] %s\n' "$CLUSTER_NAME" "$*" >&2; }

# Fail with a message saying what broke and where to look next.
die() {
  printf '[%s] ERROR: %s\n' "$CLUSTER_NAME" "$1" >&2
  shift
  local hint
  for hint in "$@"; do printf '[%s]   -> %s\n' "$CLUSTER_NAME" "$hint" >&2; done
  exit 1
}

require_root() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (installs packages and starts daemons)" "re-run with sudo"
}

# Live PIDs of processes whose command name is exactly $1. Daemons here fork
# and PID 1 reaps late, so the parent lingers as a zombie that pgrep and
# `kill -0` still report: read the state from /proc and drop zombies.
live_pids() {
  local pid state
  for pid in $(pgrep -x "$1" || true); do
    state=$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [[ -n $state && $state != Z && $state != X ]] && echo "$pid"
  done
  return 0
}

is_running() { [[ -n $(live_pids "$1") ]]; }
is_stopped() { ! is_running "$1"; }

# wait_until SECONDS DESCRIPTION CMD...: poll CMD every 0.2 s until it
# succeeds; return 1 once the deadline passes so the caller can explain
# (DESCRIPTION documents the wait at the call site).
wait_until() {
  local timeout=$1
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# The last lines of a log, indented, to put under an error message.
last_lines() { printf 'last lines of %s:\n%s' "$1" "$(tail -n "${2:-4}" "$1" 2>/dev/null | sed 's/^/        /')"; }

# Send TERM to every live process named $1, then KILL what survives $2 s.
# Succeeds when nothing by that name is left alive.
terminate() {
  local name=$1 grace=${2:-15} pids
  pids=$(live_pids "$name")
  [[ -z $pids ]] && return 0
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  if ! wait_until "$grace" "$name to exit" is_stopped "$name"; then
    log "$name ignored SIGTERM for ${grace}s, sending SIGKILL"
    pids=$(live_pids "$name")
    # shellcheck disable=SC2086
    if [[ -n $pids ]]; then kill -KILL $pids 2>/dev/null || true; fi
    sleep 0.5
  fi
  ! is_running "$name"
}

# start and stop hold a per-cluster lock so that two callers (a test run and
# a person, say) do not configure or kill daemons under each other. Fd 9
# holds it; daemons are started with `9>&-` so they do not keep it forever.
LOCK_FILE=/run/lock/saliflow-$CLUSTER_NAME.lock
take_lock() {
  exec 9>"$LOCK_FILE"
  flock -w 300 9 ||
    die "another '$(basename "$0")' start/stop has held $LOCK_FILE for 300 s" \
      "find it with: fuser -v $LOCK_FILE"
}

# Both scripts may install at once (the tests start them together), and
# `apt-get update` fails at once instead of waiting when another apt holds the
# lists lock: installs from these scripts take turns on fd 8.
APT_LOCK_FILE=/run/lock/saliflow-apt.lock
take_apt_lock() {
  exec 8>"$APT_LOCK_FILE"
  flock -w 600 8 || die "another cluster script has been installing packages for 600 s" "find it with: fuser -v $APT_LOCK_FILE"
}
release_apt_lock() { exec 8>&-; }

# Run a daemon binary (it forks and detaches) without the lock fds; its
# start-up chatter goes to stderr so stdout keeps only the result line.
spawn() { "$@" 8>&- 9>&- </dev/null >&2; }

APT_LOG=/tmp/saliflow-$CLUSTER_NAME-apt.log

# Print the packages among "$@" that are not installed.
missing_packages() {
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || echo "$pkg"
  done
  return 0
}

# Install the Debian packages that are missing. apt-get update runs only when
# a package is missing, so a normal start never touches the network. The lock
# timeout matters because other people on this machine (or the other
# cluster's script) may be using apt.
apt_install_missing() {
  local missing
  mapfile -t missing < <(missing_packages "$@")
  ((${#missing[@]} == 0)) && return 0
  log "installing ${missing[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  # Someone else's apt may still hold the lists lock: retry a few times.
  local attempt
  for attempt in 1 2 3 4 5 6; do
    apt-get -o DPkg::Lock::Timeout=300 update -qq >"$APT_LOG" 2>&1 && break
    ((attempt < 6)) || die "apt-get update failed" "read $APT_LOG; check network access to the Debian mirror"
    sleep 5
  done
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${missing[@]}" >>"$APT_LOG" 2>&1 ||
    die "apt-get install ${missing[*]} failed" "read $APT_LOG"
}

# run WHAT CMD...: run a command with its chatter hidden; on failure, show
# the captured output and stop, naming WHAT failed.
run() {
  local what=$1 out
  shift
  out=$("$@" 2>&1) || die "$what failed: $*" "output: ${out:-<none>}"
}

# Milliseconds since the epoch, for the timings printed on success.
now_ms() { date +%s%3N; }
