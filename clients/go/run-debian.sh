#!/usr/bin/env bash
# Builds and runs the Go client against the Go packages Debian 12 installs under
# /usr/share/gocode (golang-google-grpc-dev, golang-google-genproto-dev,
# golang-github-golang-protobuf-1-5-dev), without a module proxy: GOPATH mode, in a temporary
# GOPATH whose src/gatehouseclient is this directory. Generate the code first (from the
# repository root: npx buf generate --template clients/go/buf.gen.yaml). Arguments go to the
# program, e.g. bash clients/go/run-debian.sh -service-config clients/service-config.json
# 127.0.0.1:50051 (paths relative to where you run it).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ -d $here/gen/gatehouse ]] ||
  { echo "run-debian.sh: no generated code in clients/go/gen; run: npx buf generate --template clients/go/buf.gen.yaml" >&2; exit 1; }

gopath=$(mktemp -d)
trap 'rm -rf "$gopath"' EXIT
mkdir -p "$gopath/src"
ln -s "$here" "$gopath/src/gatehouseclient"
(
  cd "$gopath/src/gatehouseclient"
  GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" GOFLAGS= go build -o "$gopath/gatehouseclient" .
)
"$gopath/gatehouseclient" "$@"
