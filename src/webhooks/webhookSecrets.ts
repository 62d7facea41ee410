import { randomBytes } from 'node:crypto';

/** A new signing secret as Standard Webhooks writes it: `whsec_` + base64 of 32 random bytes. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** What a sealed secret is bound to (the box's additional data): its endpoint. */
export function webhookSecretOwner(endpointId: string): string {
  return `webhook-endpoint:${endpointId}`;
}
