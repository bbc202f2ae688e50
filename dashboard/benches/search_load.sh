#!/usr/bin/env bash
# Load benchmark of the search page (issue 6): wrk against `patroli serve` on a data folder made
# by `patroli bench search` (1,000,000 posts by default). Every request is a logged-in officer's
# search with snippets and facets, audited like any search; the queries rotate through a list of
# representative ones (see search_load.lua).
#
#   cargo build --release
#   ./target/release/patroli bench search --posts 1000000 --dir target/bench-search
#   dashboard/benches/search_load.sh target/bench-search/store [seconds] [connections]
#
# Needs wrk (Debian: apt-get install wrk) and curl.
set -euo pipefail
data=${1:?usage: search_load.sh DATA_DIR [SECONDS] [CONNECTIONS]}
seconds=${2:-30}
connections=${3:-32}
here=$(cd "$(dirname "$0")" && pwd)
bin=${PATROLI_BIN:-$here/../../target/release/patroli}
port=${PORT:-18080}
password=load-test-$RANDOM$RANDOM

command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 1; }
# A new officer each run: users cannot be given a new password from the command line.
username=loadtest-$(date +%s)-$RANDOM
printf '%s' "$password" | "$bin" --data-dir "$data" user add "$username" --role officer --password-stdin >/dev/null

# SERVE_ARGS: more options for `patroli serve`, e.g. SERVE_ARGS="--facet-cache 0".
# shellcheck disable=SC2086
"$bin" --data-dir "$data" serve --addr "127.0.0.1:$port" ${SERVE_ARGS:-} >/tmp/patroli-load-serve.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/login" && break; sleep 0.2; done

# Log in as a browser would: the login form's CSRF cookie and hidden field, then the session.
jar=$(mktemp)
form=$(curl -s -c "$jar" "http://127.0.0.1:$port/login")
csrf=$(printf '%s' "$form" | grep -o 'name="csrf" value="[0-9a-f]*"' | head -1 | sed 's/.*value="//; s/"//')
curl -s -b "$jar" -c "$jar" -o /dev/null \
  --data-urlencode "username=$username" --data-urlencode "password=$password" --data-urlencode "csrf=$csrf" \
  "http://127.0.0.1:$port/login"
session=$(awk '$6 == "patroli_session" {print $7}' "$jar")
rm -f "$jar"
[ -n "$session" ] || { echo "login failed; see /tmp/patroli-load-serve.log" >&2; exit 1; }

status=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: patroli_session=$session" "http://127.0.0.1:$port/search?q=sawit")
[ "$status" = 200 ] || { echo "the search page answered $status" >&2; exit 1; }

echo "wrk: ${seconds}s, $connections connections, 2 threads, against $data"
SESSION=$session wrk -t2 -c"$connections" -d"${seconds}s" --latency -s "$here/search_load.lua" "http://127.0.0.1:$port"
