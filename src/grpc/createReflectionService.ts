import type { PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';

/** What this relies on of each of @grpc/reflection's per-version implementations. */
interface ReflectionIndex {
  /** The decoded files (protobufjs messages) its symbol index points into. */
  files: Record<string, { sourceCodeInfo?: unknown }>;
  /** The encoding of each decoded file, made when it was built: what it answers with. */
  fileEncodings: Map<object, Uint8Array>;
}

function indexesOf(service: ReflectionService): ReflectionIndex[] {
  const versions = service as unknown as Record<string, Partial<ReflectionIndex> | undefined>;
  return [versions.v1, versions.v1Alpha].filter(
    (v): v is ReflectionIndex =>
      typeof v?.files === 'object' && v.files !== null && v.fileEncodings instanceof Map,
  );
}

/**
 * The reflection service for `pkg`, without the decoded comments it would keep for nothing.
 * @grpc/reflection decodes every file once per protocol version (v1 and v1alpha) into objects,
 * indexes them, and answers each request from encodings of them it makes up front. The
 * comments (SourceCodeInfo: a Location object and three arrays per documented element, about
 * 100,000 objects for our images with Envoy's) are in those encodings, so buf curl and grpcurl
 * still see them; the decoded copies are never read again, yet every full garbage collection
 * had to walk them while the service was under load. A file is dropped from only when its
 * encoding exists already, so a later @grpc/reflection that encodes on demand keeps them.
 */
export function createReflectionService(pkg: PackageDefinition): ReflectionService {
  const service = new ReflectionService(pkg);
  for (const index of indexesOf(service)) {
    for (const file of Object.values(index.files)) {
      if (index.fileEncodings.has(file)) delete file.sourceCodeInfo;
    }
  }
  return service;
}
