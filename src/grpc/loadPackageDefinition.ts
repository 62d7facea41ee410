import { readFileSync } from 'node:fs';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import * as protoLoader from '@grpc/proto-loader';

// buf images of proto/ (with imports) and of grpc.health.v1, committed and kept in sync by
// `npm run generate`.
const IMAGES = ['../gen/gatehouse.binpb', '../gen/health.binpb'];

const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

/**
 * Builds the package definition the reflection service serves: our API plus grpc.health.v1.
 * proto-loader drops each file's `dependency` list and merges files of one package, which
 * leaves buf curl / grpcurl unable to resolve anything; so every definition gets
 * the complete set of original descriptors from the buf images instead.
 */
export function loadPackageDefinition(): protoLoader.PackageDefinition {
  // Concatenated FileDescriptorSet encodings are one valid set (repeated field on the wire).
  const image = Buffer.concat(IMAGES.map((path) => readFileSync(new URL(path, import.meta.url))));
  const all = fromBinary(FileDescriptorSetSchema, image).file.map((file) =>
    Buffer.from(toBinary(FileDescriptorProtoSchema, file)),
  );
  const api = protoLoader.loadFileDescriptorSetFromBuffer(image, LOADER_OPTIONS);
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
