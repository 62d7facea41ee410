import { readFileSync } from 'node:fs';
import {
  createFileRegistry,
  type DescMessage,
  type DescService,
  type FileRegistry,
  fromBinary,
} from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';

/**
 * Descriptors of the API and of google.rpc's error details, from the buf images `npm run
 * generate` commits: what the Connect router needs to parse and write messages (binary and
 * proto JSON) without a second set of generated code.
 */
export interface ProtoRegistry {
  registry: FileRegistry;
  service(typeName: string): DescService;
  message(typeName: string): DescMessage;
}

const image = (file: string) =>
  createFileRegistry(
    fromBinary(FileDescriptorSetSchema, readFileSync(new URL(`../gen/${file}`, import.meta.url))),
  );

export function loadProtoRegistry(): ProtoRegistry {
  const registry = createFileRegistry(image('gatehouse.binpb'), image('google-rpc.binpb'));
  return {
    registry,
    service(typeName) {
      const desc = registry.getService(typeName);
      if (desc === undefined) throw new Error(`${typeName} is not in src/gen/gatehouse.binpb`);
      return desc;
    },
    message(typeName) {
      const desc = registry.getMessage(typeName);
      if (desc === undefined) throw new Error(`${typeName} is not in the generated images`);
      return desc;
    },
  };
}
