#!/usr/bin/env bash
# OpenAPI-driven fuzzing: schemathesis (from PyPI) generates requests from /openapi.json and
# sends them to a real `chiiki demo`, signed in as the demo resident and as staff. Any 5xx
# fails the run. Usage: tests/schemathesis.sh path/to/chiiki
set -euo pipefail
chiiki=${1:?path to the chiiki binary}
here=$(cd "$(dirname "$0")" && pwd)
venv=${CHIIKI_PY_VENV:-$here/../target/py-venv}
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'schemathesis==4.32.*'
fi
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$chiiki" demo --listen "127.0.0.1:$port" --file "$work/demo.db" >"$work/demo.out" 2>"$work/demo.err" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 1 300); do
  curl -fsS "$base/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
token() {
  curl -fsS "$base/api/v1/sessions" -H 'content-type: application/json' \
    -d "{\"login\":\"$1\",\"password\":\"$2\",\"device_name\":\"schemathesis\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
# Staff endpoints render PDFs and spreadsheets: fewer examples keep the run short.
for who in "09000000001 chiiki-demo-resident ${SCHEMATHESIS_EXAMPLES:-25}" "admin chiiki-demo-admin ${SCHEMATHESIS_STAFF_EXAMPLES:-10}"; do
  set -- $who
  echo "schemathesis as $1"
  "$venv/bin/schemathesis" run "$base/openapi.json" \
    --checks not_a_server_error \
    --max-examples "$3" \
    --header "Authorization: Bearer $(token "$1" "$2")" \
    --header "Idempotency-Key: schemathesis-$1" \
    --no-color
done
