#!/usr/bin/env bash
# Runs every Herald test (both storage engines, the browser and SMTP tests) and ends with one line
# "N passed, N failed". Installs what a fresh Debian machine lacks when run as root.
set -uo pipefail
cd "$(dirname "$0")"

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# The SMTP tests run Debian's aiosmtpd with the system interpreter, not a pyenv one.
/usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || need+=(python3-aiosmtpd)
command -v pg_config >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing: ${need[*]}"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null \
      || echo "warning: apt-get install ${need[*]} failed; tests that need them will say so"
  else
    echo "warning: missing ${need[*]}; run as root or: sudo apt-get install -y ${need[*]}"
  fi
fi

results=$(mktemp -d)
dotnet build Herald.slnx -c Release -nologo -v quiet || { echo "0 passed, 1 failed"; exit 1; }
dotnet test Herald.slnx -c Release --no-build -nologo --logger "trx" --results-directory "$results" "$@"
rc=$?

passed=0; failed=0
for f in "$results"/*.trx; do
  [ -f "$f" ] || continue
  p=$(grep -o 'passed="[0-9]*"' "$f" | head -1 | grep -o '[0-9]*'); passed=$((passed + ${p:-0}))
  x=$(grep -o 'failed="[0-9]*"' "$f" | head -1 | grep -o '[0-9]*'); failed=$((failed + ${x:-0}))
done
rm -rf "$results"
if [ $rc -ne 0 ] && [ $failed -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed"
exit $rc
