#!/usr/bin/env bash
# Fails when the committed generated code in src/gen is not what `npm run generate` produces
# from proto/ (someone edited a .proto or src/gen without regenerating, or edited src/gen by
# hand). Runs the generator through scripts/run so Node 24 and the dependencies are in place.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/run generate >/dev/null

changes=$(git status --porcelain --untracked-files=all -- src/gen)
if [[ -n $changes ]]; then
  {
    echo "check-generated: src/gen is out of date with proto/."
    echo "Run 'scripts/run generate' and commit the result. Changed files:"
    printf '%s\n' "$changes"
    git --no-pager diff --stat -- src/gen
  } >&2
  exit 1
fi
echo "check-generated: src/gen is up to date"
