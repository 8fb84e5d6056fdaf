#!/usr/bin/env bash
# The unit tests and a short integration subset on the other Node.js LTS
# lines users install (22, 24), beside the full suite on the machine's own
# Node. The binaries come from the npm registry's node-linux-<arch> packages
# (the only registry reachable here), cached under .state/node-lines/.
# Usage: scripts/ci/node-lines.sh [major...]   (default: 22 24)
set -euo pipefail
cd "$(dirname "$0")/../.."

majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(22 24)
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "[node-lines] no node-linux package for $(uname -m); skipped" >&2; exit 0 ;;
esac
# The integration files that exercise the worker, the socket and the CLI end to end, in about a minute.
subset=(test/integration/first-job.test.ts test/integration/job-lifecycle.test.ts test/integration/frontend-socket.test.ts)
cache=${SALIFLOW_STATE_DIR:-.state}/node-lines

status=0
for major in "${majors[@]}"; do
  prefix="$cache/$major"
  node_bin="$prefix/node_modules/node-linux-$arch/bin/node"
  if [ ! -x "$node_bin" ]; then
    echo "[node-lines] installing Node.js $major from the npm registry (node-linux-$arch@$major)" >&2
    npm install --no-save --no-audit --no-fund --prefix "$prefix" "node-linux-$arch@$major" >/dev/null
  fi
  echo "[node-lines] Node.js $("$node_bin" --version): unit tests and ${#subset[@]} integration files" >&2
  # The worker processes the tests spawn run `node` from PATH: this Node first.
  if ! PATH="$(dirname "$node_bin"):$PATH" "$node_bin" --import tsx --test --test-concurrency=1 \
    --test-reporter=spec test/unit/*.test.ts "${subset[@]}" >"$cache/$major.log" 2>&1; then
    status=1
  fi
  grep -E '^ℹ (tests|pass|fail|skipped)' "$cache/$major.log" | sed "s/^/[node-lines] Node $major: /" >&2
  [ $status -eq 0 ] || { tail -60 "$cache/$major.log" >&2; }
done
exit $status
