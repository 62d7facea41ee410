export type { StreamStatus } from './createRevocationFeed.ts';
export {
  createVerifier,
  type Verifier,
  type VerifierOptions,
  type VerifierStatus,
} from './createVerifier.ts';
export type { RevocationEvent } from './gen/gatehouse/auth/v1/auth_service.ts';
export { RevocationReason, RevocationScope } from './gen/gatehouse/auth/v1/auth_service.ts';
export type {
  Identity,
  ServiceAccountIdentity,
  UserApiKeyIdentity,
  UserIdentity,
} from './Identity.ts';
export { isVerifierError, VerifierError, type VerifierErrorCode } from './VerifierError.ts';
