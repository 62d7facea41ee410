import { LRUCache } from 'lru-cache';
import type { AuthzSubject, PermissionGrants, RoleGrant } from '../domain/PermissionGrants.ts';
import { findGlobalRoleGrants, findPermissionGrants } from '../storage/authz.ts';
import type { Db } from '../storage/Db.ts';

/** Effective-permission inputs on the hot path, per (subject, organisation). */
export interface PermissionCache {
  /** The subject's grants (in the organisation, when not null), as stored at most a TTL ago. */
  grants(subject: AuthzSubject, organizationId: string | null): Promise<PermissionGrants>;
  /**
   * What the global roles `roles` grant, from the catalog of global roles (one query per TTL for
   * every subject alike, dropped with everything else on a change): for callers that already
   * know a principal's current global roles and ask about no organisation.
   */
  globalGrants(roles: readonly string[]): Promise<RoleGrant[]>;
  /** Drops what is cached about these users and service accounts (their roles or status changed). */
  forget(changes: { userIds?: string[]; serviceAccountIds?: string[] }): void;
  /** Drops everything (a role, permission, organisation or membership changed, or a feed gap). */
  forgetAll(): void;
}

const MAX_ENTRIES = 50_000;

const keyOf = (subject: AuthzSubject, organizationId: string | null) =>
  `${subject.kind}:${subject.id}|${organizationId ?? ''}`;

/**
 * An in-process cache of findPermissionGrants, one query per (subject, organisation) per TTL
 * (at most a second), kept current by the change feed. Concurrent misses of one key share one
 * query. A query that was in flight when anything was dropped is answered but not kept: it may
 * have read the state from before the change.
 */
export function createPermissionCache(d: { pool: Db; ttlMs: number }): PermissionCache {
  const entries = new LRUCache<string, Promise<PermissionGrants>>({
    max: MAX_ENTRIES,
    ttl: d.ttlMs,
  });
  let generation = 0;
  let catalog: { loading: Promise<Map<string, string[]>>; at: number } | null = null;
  const loadCatalog = () => {
    if (catalog !== null && Date.now() - catalog.at < d.ttlMs) return catalog.loading;
    const started = generation;
    const loading = findGlobalRoleGrants(d.pool);
    const entry = { loading, at: Date.now() };
    catalog = entry;
    loading.then(
      () => {
        if (generation !== started && catalog === entry) catalog = null;
      },
      () => {
        if (catalog === entry) catalog = null;
      },
    );
    return loading;
  };
  const forgetPrefix = (prefix: string) => {
    for (const key of [...entries.keys()]) if (key.startsWith(prefix)) entries.delete(key);
  };
  return {
    grants(subject, organizationId) {
      const key = keyOf(subject, organizationId);
      const cached = entries.get(key);
      if (cached !== undefined) return cached;
      const started = generation;
      const loading = findPermissionGrants(d.pool, subject, organizationId);
      entries.set(key, loading);
      loading.then(
        () => {
          if (generation !== started && entries.peek(key) === loading) entries.delete(key);
        },
        () => {
          if (entries.peek(key) === loading) entries.delete(key);
        },
      );
      return loading;
    },
    async globalGrants(roles) {
      if (roles.length === 0) return [];
      const byRole = await loadCatalog();
      return roles.flatMap((role) =>
        (byRole.get(role) ?? []).map((permission) => ({ role, permission })),
      );
    },
    forget({ userIds = [], serviceAccountIds = [] }) {
      if (userIds.length === 0 && serviceAccountIds.length === 0) return;
      generation += 1;
      for (const id of userIds) forgetPrefix(`user:${id}|`);
      for (const id of serviceAccountIds) forgetPrefix(`service_account:${id}|`);
    },
    forgetAll() {
      generation += 1;
      entries.clear();
      catalog = null;
    },
  };
}
