import type { Principal } from '../core/keys/principal.js';
import type { Scope } from '../core/keys/scopes.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by a face's authentication hook on authenticated routes. */
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** The scope a key needs for this route; absent on public routes. */
    scope?: Scope;
    /** A route anyone may call, without a key. */
    public?: boolean;
  }
}
