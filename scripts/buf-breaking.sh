#!/usr/bin/env bash
# Checks proto/ for breaking changes (buf breaking) against the last committed contract:
#   - the parent of the most recent commit that changed proto/, when that parent has proto files;
#   - otherwise HEAD~1, when it has proto files;
#   - otherwise there is no earlier contract yet, and the check is skipped.
# Needs the git history (a normal, non-shallow clone).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

has_proto() { [[ -n $(git ls-tree -r --name-only "$1" -- proto 2>/dev/null | grep '\.proto$' || true) ]]; }

if [[ $(git rev-parse --is-shallow-repository) == true ]]; then
  echo "buf-breaking: this clone is shallow; fetch the history (git fetch --unshallow) to compare" >&2
  exit 1
fi

against=
last=$(git log -1 --format=%H HEAD -- proto)
if [[ -n $last ]] &&
  git rev-parse -q --verify "$last^" >/dev/null && has_proto "$last^"; then
  against=$(git rev-parse "$last^")
elif git rev-parse -q --verify 'HEAD~1' >/dev/null && has_proto 'HEAD~1'; then
  against=$(git rev-parse 'HEAD~1')
fi

if [[ -z $against ]]; then
  echo "buf breaking: no previous contract on main yet"
  exit 0
fi

echo "buf breaking: proto/ against $(git log -1 --format='%h %s' "$against")"
# Input proto/, not the whole workspace: the workspace also holds the vendored googleapis module
# (third_party/googleapis), which is not Gatehouse's contract.
npx --no-install buf breaking proto --against ".git#ref=$against,subdir=proto"
echo "buf breaking: no breaking changes"
