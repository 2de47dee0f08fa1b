import type { Scope } from './scopes.js';

/** Who is calling: resolved once per request by authentication, checked by every route. */
export interface Principal {
  /** An API key, or an agent's browser session (the inbox). */
  kind: 'key' | 'session';
  /** The key's id; for a session `user:<userId>`, which rate limits count by. */
  keyId: string;
  scopes: ReadonlySet<string>;
  /** null: every location (an agency-wide key). */
  locationIds: ReadonlySet<string> | null;
  /** Set when the key speaks for one conversation provider (its delivery status reports). */
  providerId: string | null;
  /** The user a session speaks for (absent for keys). */
  userId?: string;
}

export function hasScope(p: Principal, scope: Scope): boolean {
  return p.scopes.has('*') || p.scopes.has(scope);
}

export function canAccessLocation(p: Principal, locationId: string): boolean {
  return p.locationIds === null || p.locationIds.has(locationId);
}

/** The locations a listing may show: null means all of them. */
export function visibleLocations(p: Principal): string[] | null {
  return p.locationIds === null ? null : [...p.locationIds];
}
