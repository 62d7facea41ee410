import { readFileSync } from 'node:fs';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
} from '@bufbuild/protobuf/wkt';
import * as protoLoader from '@grpc/proto-loader';

// buf images of proto/ (with imports), of grpc.health.v1, of google/rpc/status.proto and
// error_details.proto (so clients can decode the error details every error carries) and of
// Envoy's ext_authz API, committed and kept in sync by `npm run generate`.
const IMAGES = [
  '../gen/gatehouse.binpb',
  '../gen/health.binpb',
  '../gen/google-rpc.binpb',
  '../gen/envoy-ext-authz.binpb',
];

const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

/**
 * Builds the package definition the reflection service serves: our API, grpc.health.v1, the
 * google.rpc error details and Envoy's envoy.service.auth.v3.Authorization.
 * proto-loader drops each file's `dependency` list and merges files of one package, which
 * leaves buf curl / grpcurl unable to resolve anything; so every definition gets
 * the complete set of original descriptors from the buf images instead.
 */
export function loadPackageDefinition(): protoLoader.PackageDefinition {
  // One set of every file, each once (the images share well-known types such as any.proto).
  const files = new Map<string, FileDescriptorProto>();
  for (const path of IMAGES) {
    const set = fromBinary(FileDescriptorSetSchema, readFileSync(new URL(path, import.meta.url)));
    for (const file of set.file) if (!files.has(file.name)) files.set(file.name, file);
  }
  const image = toBinary(
    FileDescriptorSetSchema,
    create(FileDescriptorSetSchema, { file: [...files.values()] }),
  );
  const all = [...files.values()].map((file) =>
    Buffer.from(toBinary(FileDescriptorProtoSchema, file)),
  );
  const api = protoLoader.loadFileDescriptorSetFromBuffer(Buffer.from(image), LOADER_OPTIONS);
  const replace = (protos: Buffer[] | undefined) => protos?.splice(0, protos.length, ...all);
  for (const def of Object.values(api)) {
    replace((def as { fileDescriptorProtos?: Buffer[] }).fileDescriptorProtos);
    for (const method of Object.values(def)) {
      const m = method as {
        requestType?: { fileDescriptorProtos?: Buffer[] };
        responseType?: { fileDescriptorProtos?: Buffer[] };
      };
      replace(m.requestType?.fileDescriptorProtos);
      replace(m.responseType?.fileDescriptorProtos);
    }
  }
  return api;
}
