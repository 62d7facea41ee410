#!/usr/bin/env bash
# Fails when the committed generated code (src/gen, and the verifier package's client code in
# packages/verifier/src/gen) is not what `npm run generate` produces from proto/ (someone
# edited a .proto without regenerating, or edited generated code by hand). Runs the generator
# through scripts/run so Node 24 and the dependencies are in place. Also fails when the vendored
# google/rpc protos in third_party/googleapis differ from those of google-proto-files.
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

# The google/rpc protos they are generated from, vendored as a buf module, must be the ones the
# pinned google-proto-files ships (third_party/googleapis/README.md says how to refresh them).
for file in status.proto error_details.proto code.proto; do
  cmp -s "node_modules/google-proto-files/google/rpc/$file" "third_party/googleapis/google/rpc/$file" || {
    echo "check-generated: third_party/googleapis/google/rpc/$file differs from google-proto-files;" \
      "refresh it (third_party/googleapis/README.md)" >&2
    exit 1
  }
done
echo "check-generated: third_party/googleapis/google/rpc matches google-proto-files"
