import type { FieldViolation } from '../errors/AppError.ts';

/**
 * Proto JSON writes a FieldMask as ONE comma-separated string of lowerCamelCase paths, which
 * the client converts to these snake_case names (and refuses snake_case input itself); said in
 * every mask error, because a person at a terminal writes JSON.
 */
const JSON_HINT =
  'field mask paths in JSON are camelCase, e.g. "updateMask": "displayName,emailVerified"';

/** `display_name` -> `displayName`: how proto JSON spells a path. */
const camelCase = (path: string) => path.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** The allowed path `path` was probably meant to be (case and underscores aside), if any. */
function meantPath<P extends string>(allowed: readonly P[], path: string): P | undefined {
  const squash = (p: string) => p.replaceAll('_', '').toLowerCase();
  return allowed.find((a) => squash(a) === squash(path));
}

/**
 * The paths of an Update RPC's `update_mask` that are among `allowed` (proto field names).
 * A missing or empty mask, and every other path, adds a violation of field `update_mask` to
 * `violations`, saying which paths are allowed and how JSON spells them (with a guess at the
 * path meant, for `displayname` or `DisplayName`).
 */
export function parseUpdateMask<P extends string>(
  allowed: readonly P[],
  paths: readonly string[] | undefined,
  violations: FieldViolation[],
): Set<P> {
  const found = new Set<P>();
  if (!paths || paths.length === 0) {
    violations.push({
      field: 'update_mask',
      description: `name the fields to update: ${allowed.join(', ')} (${JSON_HINT})`,
      reason: 'REQUIRED',
    });
  }
  for (const path of paths ?? []) {
    if ((allowed as readonly string[]).includes(path)) {
      found.add(path as P);
      continue;
    }
    const shown = JSON.stringify(path.slice(0, 64));
    const meant = meantPath(allowed, path);
    violations.push({
      field: 'update_mask',
      description:
        meant === undefined
          ? `unknown or read-only path ${shown}; allowed: ${allowed.join(', ')} (${JSON_HINT})`
          : `unknown path ${shown}: did you mean ${meant}? Field mask paths in JSON are ` +
            `camelCase ("updateMask": "${camelCase(meant)}"); in binary protobuf they are the ` +
            `proto field names (${meant})`,
      reason: 'UNKNOWN_PATH',
    });
  }
  return found;
}
