#!/usr/bin/env bash
# Fails when the committed generated code (src/gen, and the verifier package's client code in
# packages/verifier/src/gen) is not what `npm run generate` produces from proto/ (someone
# edited a .proto without regenerating, or edited generated code by hand). Runs the generator
# through scripts/run so Node 24 and the dependencies are in place.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/run generate >/dev/null

changes=$(git status --porcelain --untracked-files=all -- src/gen packages/verifier/src/gen)
if [[ -n $changes ]]; then
  {
    echo "check-generated: generated code is out of date with proto/."
    echo "Run 'scripts/run generate' and commit the result. Changed files:"
    printf '%s\n' "$changes"
    git --no-pager diff --stat -- src/gen packages/verifier/src/gen
  } >&2
  exit 1
fi
echo "check-generated: src/gen and packages/verifier/src/gen are up to date"
