import { readFileSync } from 'node:fs';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
} from '@bufbuild/protobuf/wkt';
import type { PackageDefinition } from '@grpc/proto-loader';

// buf images of proto/ (with imports), of grpc.health.v1, of google/rpc/status.proto and
// error_details.proto (so clients can decode the error details every error carries) and of
// Envoy's ext_authz API, committed and kept in sync by `npm run generate`.
const IMAGES = [
  '../gen/gatehouse.binpb',
  '../gen/health.binpb',
  '../gen/google-rpc.binpb',
  '../gen/envoy-ext-authz.binpb',
];

/**
 * What the reflection service serves: our API, grpc.health.v1, the google.rpc error details and
 * Envoy's envoy.service.auth.v3.Authorization, as the original descriptors of the buf images,
 * each file once and with its comments, so buf curl / grpcurl resolve every type and its
 * imports. @grpc/reflection indexes the files of every entry of a package definition and
 * decodes each entry's list anew; one entry that holds all the files is what it needs (a
 * proto-loader definition, with the full list on every type, made it decode the whole set
 * once per type: two seconds of CPU at every start).
 */
export function loadPackageDefinition(): PackageDefinition {
  // One set of every file, each once (the images share well-known types such as any.proto).
  const files = new Map<string, FileDescriptorProto>();
  for (const path of IMAGES) {
    const set = fromBinary(FileDescriptorSetSchema, readFileSync(new URL(path, import.meta.url)));
    for (const file of set.file) if (!files.has(file.name)) files.set(file.name, file);
  }
  const all = [...files.values()].map((file) =>
    Buffer.from(toBinary(FileDescriptorProtoSchema, file)),
  );
  return {
    'gatehouse.reflection.AllFiles': {
      format: 'Protocol Buffer 3 FileDescriptorProto',
      type: {},
      fileDescriptorProtos: all,
    },
  } as unknown as PackageDefinition;
}
