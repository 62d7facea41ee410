import protobuf from 'protobufjs';

// grpc-js has no helper for google.rpc error details, and the googleapis protos are not in our
// buf module, so the few messages we need are declared here (field numbers from
// google/rpc/status.proto and google/rpc/error_details.proto).
const descriptor = {
  nested: {
    google: {
      nested: {
        protobuf: {
          nested: {
            Any: {
              fields: { type_url: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } },
            },
            Duration: {
              fields: { seconds: { type: 'int64', id: 1 }, nanos: { type: 'int32', id: 2 } },
            },
          },
        },
        rpc: {
          nested: {
            Status: {
              fields: {
                code: { type: 'int32', id: 1 },
                message: { type: 'string', id: 2 },
                details: { rule: 'repeated', type: 'google.protobuf.Any', id: 3 },
              },
            },
            ErrorInfo: {
              fields: {
                reason: { type: 'string', id: 1 },
                domain: { type: 'string', id: 2 },
                metadata: { keyType: 'string', type: 'string', id: 3 },
              },
            },
            RetryInfo: { fields: { retry_delay: { type: 'google.protobuf.Duration', id: 1 } } },
            BadRequest: {
              fields: {
                field_violations: { rule: 'repeated', type: 'FieldViolation', id: 1 },
              },
              nested: {
                FieldViolation: {
                  fields: {
                    field: { type: 'string', id: 1 },
                    description: { type: 'string', id: 2 },
                    reason: { type: 'string', id: 3 },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};
const root = protobuf.Root.fromJSON(descriptor as protobuf.INamespace);

const StatusType = root.lookupType('google.rpc.Status');
const ErrorInfoType = root.lookupType('google.rpc.ErrorInfo');
const RetryInfoType = root.lookupType('google.rpc.RetryInfo');
const BadRequestType = root.lookupType('google.rpc.BadRequest');
const typeUrl = (name: string) => `type.googleapis.com/${name}`;

export interface ErrorInfo {
  reason: string;
  domain: string;
  metadata: Record<string, string>;
}
export interface BadRequestViolation {
  field: string;
  description: string;
  reason: string;
}
export interface RpcStatus {
  code: number;
  message: string;
  errorInfo?: ErrorInfo;
  retryDelayMs?: number;
  fieldViolations?: BadRequestViolation[];
}

/** Serialises a google.rpc.Status for the grpc-status-details-bin trailer. */
export function encodeRpcStatus(status: RpcStatus): Buffer {
  const details: { type_url: string; value: Uint8Array }[] = [];
  if (status.errorInfo) {
    details.push({
      type_url: typeUrl('google.rpc.ErrorInfo'),
      value: ErrorInfoType.encode(ErrorInfoType.fromObject(status.errorInfo)).finish(),
    });
  }
  if (status.fieldViolations && status.fieldViolations.length > 0) {
    details.push({
      type_url: typeUrl('google.rpc.BadRequest'),
      value: BadRequestType.encode(
        BadRequestType.fromObject({ field_violations: status.fieldViolations }),
      ).finish(),
    });
  }
  if (status.retryDelayMs !== undefined) {
    const ms = Math.max(0, Math.ceil(status.retryDelayMs));
    details.push({
      type_url: typeUrl('google.rpc.RetryInfo'),
      value: RetryInfoType.encode(
        RetryInfoType.fromObject({
          retry_delay: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 },
        }),
      ).finish(),
    });
  }
  const message = StatusType.fromObject({ code: status.code, message: status.message, details });
  return Buffer.from(StatusType.encode(message).finish());
}

/** Parses a grpc-status-details-bin value (used by tests and clients written in TypeScript). */
export function decodeRpcStatus(bytes: Uint8Array): RpcStatus {
  const raw = StatusType.toObject(StatusType.decode(bytes), { longs: Number, defaults: true }) as {
    code: number;
    message: string;
    details: { type_url: string; value: Uint8Array }[];
  };
  const result: RpcStatus = { code: raw.code, message: raw.message };
  for (const any of raw.details) {
    if (any.type_url === typeUrl('google.rpc.ErrorInfo')) {
      const info = ErrorInfoType.toObject(ErrorInfoType.decode(any.value), {
        defaults: true,
      }) as ErrorInfo;
      result.errorInfo = {
        reason: info.reason,
        domain: info.domain,
        metadata: info.metadata ?? {},
      };
    } else if (any.type_url === typeUrl('google.rpc.BadRequest')) {
      const br = BadRequestType.toObject(BadRequestType.decode(any.value), {
        defaults: true,
      }) as { field_violations: BadRequestViolation[] };
      result.fieldViolations = br.field_violations;
    } else if (any.type_url === typeUrl('google.rpc.RetryInfo')) {
      const ri = RetryInfoType.toObject(RetryInfoType.decode(any.value), {
        longs: Number,
        defaults: true,
      }) as { retry_delay?: { seconds: number; nanos: number } };
      const d = ri.retry_delay ?? { seconds: 0, nanos: 0 };
      result.retryDelayMs = d.seconds * 1000 + Math.round(d.nanos / 1e6);
    }
  }
  return result;
}
