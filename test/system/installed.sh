#!/usr/bin/env bash
# The engine installed as the container image installs it, without Docker,
# and the system test run against it:
#
#   npm run build -> npm pack (package.json "files": the paths the Dockerfile's
#   runtime stage copies, checked against it) -> unpacked in a clean folder,
#   package-lock.json and .npmrc beside it as the Dockerfile copies them ->
#   npm ci --omit=dev --ignore-scripts (the runtime stage's install) ->
#   started as nobody (when run as root; as-is otherwise) on the baked sample,
#   API on 127.0.0.1 and a free port -> npm run test:system against it ->
#   SIGTERM, which must end it with exit 0 within 10 s.
#
# A file the image forgets, or a dev dependency the engine needs at run time,
# fails here. native-free-ring is an npm workspace, not a registry package:
# the tarball carries its package.json and dist/src, and npm ci links
# node_modules/native-free-ring to that folder from the lock's workspace
# entry, exactly as in the image.
#
# Each stage is a TAP point on stdout. Under .ci/run (CI_TAP_FILE set) the
# system test's TAP and these points are written to CI_TAP_FILE as one
# stream, so each is counted. Needs the npm registry (or a warm npm cache).
#
# Usage: bash test/system/installed.sh      KEEP=1 keeps the folder and the log
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"

# The engine's own shutdown limit (src/main.ts), which the image's SIGTERM relies on.
STOP_TIMEOUT_S=10
# Start-up answers /health in about a second; a slow CI box gets 30.
START_TIMEOUT_S=30
SUITE='the engine installed from npm pack as the image installs it'

work=$(mktemp -d "${TMPDIR:-/tmp}/gpu-telemetry-installed-XXXXXX")
app="$work/package"
log="$work/engine.log"
outer_tap=${CI_TAP_FILE:-}
pid=
points=()
failed=0

# point ok|fail DESCRIPTION: one TAP point, printed now and kept for CI_TAP_FILE.
point() {
  local verdict=ok
  if [[ $1 != ok ]]; then verdict='not ok'; failed=1; fi
  shift
  points+=("$verdict $((${#points[@]} + 1)) - $*")
  printf '%s\n' "${points[-1]}"
}

# expect DESCRIPTION CMD...: a point for CMD. must: the same, and a failure
# ends the script (what follows would only fail for the same reason).
expect() {
  local what=$1
  shift
  if "$@"; then point ok "$what"; else point fail "$what"; fi
}
must() {
  local what=$1
  shift
  if "$@"; then point ok "$what"; else point fail "$what"; exit 1; fi
}

# Our points as one subtest, then the system test's stream renumbered after
# it, and one plan.
write_tap() {
  local p n=1
  echo 'TAP version 14'
  echo "# Subtest: $SUITE"
  for p in "${points[@]}"; do echo "    $p"; done
  echo "    1..${#points[@]}"
  if ((failed)); then echo "not ok 1 - $SUITE"; else echo "ok 1 - $SUITE"; fi
  if [[ -s $work/system.tap ]]; then
    awk '/^TAP version / || /^1\.\.[0-9]+$/ { next }
         /^(not )?ok [0-9]+/ { n++; sub(/ok [0-9]+/, "ok " n) }
         { print }' n=1 "$work/system.tap"
    n=$((n + $(grep -cE '^(not )?ok [0-9]+' "$work/system.tap" || true)))
  fi
  echo "1..$n"
}

cleanup() {
  local rc=$?
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  ((failed)) && rc=1
  if ((rc != 0)) && [[ -s $log ]]; then
    echo "# the engine's log, last 20 lines:"
    tail -n 20 "$log" | cut -c 1-400 | awk '{ print "#   " $0 }'
  fi
  if [[ -n $outer_tap ]]; then write_tap >"$outer_tap"; fi
  if [[ -n ${KEEP:-} ]]; then echo "# kept $work"; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT

# True while the engine runs and has not answered /health yet.
starting() {
  kill -0 "$pid" 2>/dev/null && ! curl -fsS -o /dev/null --max-time 2 "$url/health" 2>/dev/null
}

# The engine answers /health within START_TIMEOUT_S.
serving() {
  local deadline=$((SECONDS + START_TIMEOUT_S))
  while starting && ((SECONDS < deadline)); do sleep 0.2; done
  kill -0 "$pid" 2>/dev/null && curl -fsS -o /dev/null --max-time 2 "$url/health"
}

# The engine's uid is the one it was started as.
runs_as() {
  [[ $(awk '/^Uid:/ { print $2 }' "/proc/$pid/status") == "$1" ]]
}

# SIGTERM, then the engine's exit within STOP_TIMEOUT_S; sets stop_rc and stop_ms.
stop_engine() {
  local sleeper done_pid= started_ns
  started_ns=$(date +%s%N)
  kill -TERM "$pid"
  sleep "$STOP_TIMEOUT_S" &
  sleeper=$!
  stop_rc=0
  wait -n -p done_pid "$pid" "$sleeper" || stop_rc=$?
  stop_ms=$((($(date +%s%N) - started_ns) / 1000000))
  if [[ $done_pid == "$pid" ]]; then
    kill "$sleeper" 2>/dev/null || true
    wait "$sleeper" 2>/dev/null || true
  else
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    stop_rc=timeout
  fi
  pid=
}

# The log has no error or fatal line (pino levels 50, 60) and ends with "stopped".
clean_log() {
  node -e '
    const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => { try { return JSON.parse(l); } catch { return { level: 0, msg: l }; } });
    const bad = lines.filter((l) => l.level >= 50);
    for (const l of bad) console.error(`# logged: ${l.msg} ${l.err ?? ""}`);
    process.exit(bad.length === 0 && lines.at(-1)?.msg === "stopped" ? 0 : 1);
  ' "$log"
}

echo "# $SUITE, in $work"

# ---- build and pack ----
must 'npm run build compiles what is packed' npm run --silent build
tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1) || true
must "npm pack writes $tarball" test -s "$work/$tarball"
tar -tzf "$work/$tarball" >"$work/tarball.txt"
expect "the tarball's $(wc -l <"$work/tarball.txt") files are the paths the image's runtime stage copies" \
  sh -c 'node dist/test/system/runtime-files.js Dockerfile <"$1" >"$2"' _ "$work/tarball.txt" "$work/beside.txt"

# ---- install as the runtime stage does ----
tar -xzf "$work/$tarball" -C "$work" --no-same-owner
mapfile -t beside <"$work/beside.txt"
for f in "${beside[@]}"; do cp "$f" "$app/$f"; done
echo "# copied beside the package, as the Dockerfile does: ${beside[*]}"
must 'npm ci --omit=dev --ignore-scripts installs the production dependencies' \
  sh -c 'cd "$1" && NODE_ENV=production npm ci --omit=dev --ignore-scripts --no-audit --no-fund' _ "$app"
expect 'no dev dependency is installed (tap, typescript)' test ! -e "$app/node_modules/tap" -a ! -e "$app/node_modules/typescript"
expect 'node_modules/native-free-ring links to the packed workspace' test "$(readlink "$app/node_modules/native-free-ring")" = ../native-free-ring
# Readable by everyone, writable by root only: the image's files are root's, and it runs as 1000.
chmod -R a+rX,go-w "$work"

# ---- run as a non-root user ----
port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
url="http://127.0.0.1:$port"
node_bin=$(command -v node)
as_user=()
uid=$EUID
if ((EUID == 0)); then
  uid=$(id -u nobody)
  as_user=(setpriv --reuid="$uid" --regid="$(id -g nobody)" --clear-groups)
fi
# The image's environment (ENV lines) and nothing of ours; CSV_FILE is the baked sample.
(cd "$app" && exec "${as_user[@]}" env -i PATH="$(dirname "$node_bin"):/usr/bin:/bin" HOME=/nonexistent NODE_ENV=production \
  CSV_FILE="$app/data/sample.csv" API_HOST=127.0.0.1 API_PORT="$port" "$node_bin" dist/src/main.js >"$log" 2>&1) &
pid=$!
must "started as uid $uid on $url, it answers /health within $START_TIMEOUT_S s" serving
expect "it runs as uid $uid" runs_as "$uid"

# ---- the system test ----
system_rc=0
CI_TAP_FILE="$work/system.tap" npm run --silent test:system -- --url "$url" || system_rc=$?

# ---- shutdown ----
stop_engine
expect "SIGTERM: exit $stop_rc after $stop_ms ms (0 within ${STOP_TIMEOUT_S} s)" test "$stop_rc" = 0
expect 'its log has no error or fatal line and ends with "stopped"' clean_log

echo "# system test: exit $system_rc"
((system_rc == 0)) || exit 1
