import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { WebhookAddressRules } from '../config/webhookConfig.ts';

/**
 * What an address is, by ipaddr.js's ranges: 'unicast' for a public address, else the range
 * ('loopback', 'private', 'linkLocal', 'uniqueLocal', 'carrierGradeNat', 'multicast',
 * 'unspecified', 'broadcast', 'reserved', ...). An IPv4-mapped IPv6 address (::ffff:127.0.0.1)
 * is classified as the IPv4 address it carries; other IPv6 forms that embed an IPv4 address
 * (NAT64 64:ff9b::/96, 6to4, Teredo) are their own non-public ranges. null: not an address.
 */
export function classifyAddress(address: string): string | null {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (!ipaddr.isValid(bare) || isIP(bare.split('%')[0] ?? '') === 0) return null;
  return ipaddr.process(bare).range();
}

/** Why an address is refused, or null when deliveries may go there. */
export type AddressCheck = (address: string) => string | null;

export interface AddressPolicy {
  /** The check of a resolved (or literal) address. */
  checkAddress: AddressCheck;
  /**
   * Why a webhook URL is refused before anything is sent (scheme, credentials, fragment, an IP
   * literal host in a refused range), or null. Host names are checked when resolved, at each
   * delivery.
   */
  checkUrl(url: string): string | null;
}

/**
 * The rules of WEBHOOK_ALLOW_HTTP, WEBHOOK_ALLOW_PRIVATE_NETWORKS and WEBHOOK_ALLOWED_CIDRS:
 * only public unicast addresses, unless private networks are allowed or the address is in an
 * allowed range.
 */
export function createAddressPolicy(rules: WebhookAddressRules): AddressPolicy {
  const allowed = rules.allowedCidrs.map((cidr) => ipaddr.parseCIDR(cidr));
  const inAllowedRange = (ip: ipaddr.IPv4 | ipaddr.IPv6) =>
    allowed.some(([range, bits]) => range.kind() === ip.kind() && ip.match(range, bits));

  const checkAddress: AddressCheck = (address) => {
    const range = classifyAddress(address);
    if (range === null) return `${address} is not an IP address`;
    if (range === 'unicast' || rules.allowPrivateNetworks) return null;
    const bare = address.replace(/^\[|\]$/g, '');
    if (inAllowedRange(ipaddr.process(bare))) return null;
    return (
      `${address} is a ${range} address; webhooks go to public addresses only ` +
      '(WEBHOOK_ALLOW_PRIVATE_NETWORKS or WEBHOOK_ALLOWED_CIDRS allow others)'
    );
  };

  return {
    checkAddress,
    checkUrl(text) {
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        return 'not an absolute URL';
      }
      if (url.protocol !== 'https:' && !(url.protocol === 'http:' && rules.allowHttp)) {
        return rules.allowHttp
          ? 'must be an http or https URL'
          : 'must be an https URL (WEBHOOK_ALLOW_HTTP allows http)';
      }
      if (url.username !== '' || url.password !== '') return 'must not carry credentials';
      if (url.hash !== '' || text.includes('#')) return 'must not have a #fragment';
      if (url.hostname === '') return 'has no host';
      const host = url.hostname.replace(/^\[|\]$/g, '');
      if (isIP(host) !== 0) return checkAddress(host);
      return null;
    },
  };
}
