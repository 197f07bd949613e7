#!/usr/bin/env bash
# Runs every test of tkesj: formatting, vet, the Go suite with the race
# detector (PostgreSQL and NATS legs when their URLs are set), short fuzz runs,
# and the web client's end-to-end suite in headless Chromium.
#
#   TKESJ_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable
#   TKESJ_TEST_NATS_URL=nats://127.0.0.1:4222
#   TKESJ_TEST_S3_URL=http://ACCESS:SECRET@127.0.0.1:7070   (an S3-compatible server)
#
# Outside CI a leg whose URL is unset is skipped; in CI (CI=true) it fails.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './web/node_modules/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "go test -race"
go test -race -count=1 -timeout 20m ./...

step "fuzz (${FUZZTIME:=5s} each)"
# fuzz PKG FN: a short fuzz run. Go's fuzzer sometimes ends a run at its
# -fuzztime with "context deadline exceeded" and no failing input (the
# coordinator's deadline meets a worker mid-exchange); that run is repeated
# once. A real finding names its input under testdata/fuzz and fails at once.
fuzz() {
  local pkg=$1 fn=$2
  for attempt in 1 2; do
    if go test -run=NONE -fuzz="^${fn}\$" -fuzztime="$FUZZTIME" "./$pkg" >/tmp/tkesj-fuzz.log 2>&1; then
      echo "ok  $fn"; return 0
    fi
    if [ "$attempt" = 1 ] && grep -q "context deadline exceeded" /tmp/tkesj-fuzz.log && ! grep -q "Failing input\|testdata/fuzz/" /tmp/tkesj-fuzz.log; then
      echo "    $fn: the fuzzer's own deadline error, no failing input; once more"
      continue
    fi
    cat /tmp/tkesj-fuzz.log; exit 1
  done
}
for target in \
  internal/httpapi:FuzzDecode \
  internal/validate:FuzzPhone internal/validate:FuzzUsername internal/validate:FuzzPassword internal/validate:FuzzNickname \
  internal/keyring:FuzzOpen; do
  pkg=${target%%:*}; fn=${target##*:}
  if [ -d "$pkg" ]; then
    fuzz "$pkg" "$fn"
  fi
done
# Fuzz targets of packages that other issues add are listed in their own file.
if [ -f scripts/fuzz-targets ]; then
  while read -r pkg fn; do
    [ -z "$pkg" ] && continue
    fuzz "$pkg" "$fn"
  done < scripts/fuzz-targets
fi

step "tkesj bench, small size of every scenario (a smoke test of the tool, not of timings)"
go run ./cmd/tkesj bench --size small >/tmp/tkesj-bench.txt 2>&1 || { cat /tmp/tkesj-bench.txt; exit 1; }
grep -E '^B[0-9] ' /tmp/tkesj-bench.txt

step "govulncheck"
# The checker installs through the Go module proxy; its vulnerability
# database lives at vuln.go.dev, which this network cannot reach. Then the
# step says so instead of failing; anywhere it can reach it, findings fail.
if out=$(go run golang.org/x/vuln/cmd/govulncheck@v1.9.0 ./... 2>&1); then
  echo "no known vulnerabilities reach tkesj's code"
elif echo "$out" | grep -q "fetching vulnerabilities"; then
  echo "skipped: the vulnerability database (vuln.go.dev) is unreachable from this machine"
else
  echo "$out"; exit 1
fi

if [ -f web/package.json ]; then
  step "web client: rebuild and compare with the committed build"
  if [ ! -d web/node_modules ]; then (cd web && npm ci --no-audit --no-fund); fi
  step "web client: API types are those generated from openapi.json"
  (cd web && npm run --silent api-types >/dev/null)
  if ! git diff --quiet -- web/src/api-types.ts 2>/dev/null; then
    echo "web/src/api-types.ts is stale: run 'cd web && npm run api-types' and commit it"
    git diff --stat -- web/src/api-types.ts
    exit 1
  fi
  (cd web && npm run --silent build)
  if [ -n "$(git status --porcelain -- web/dist 2>/dev/null)" ]; then
    echo "web/dist differs from a fresh build of web/src: run 'cd web && npm run build' and commit web/dist"
    git status --porcelain -- web/dist
    [ -n "${CI:-}" ] && exit 1
  fi
  if [ -x /usr/bin/chromium ]; then
    step "web client: end-to-end in headless Chromium"
    go build -o /tmp/tkesj-e2e-bin ./cmd/tkesj
    (cd web && TKESJ_BIN=/tmp/tkesj-e2e-bin npm run --silent e2e)
  elif [ -n "${CI:-}" ]; then
    echo "chromium is missing; .ci/run installs it"; exit 1
  else
    echo "skipping the browser suite: /usr/bin/chromium is not installed (apt-get install chromium)"
  fi
fi
echo
echo "all tests passed"
