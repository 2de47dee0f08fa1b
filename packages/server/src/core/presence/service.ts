import type { Queryable } from '../../storage/db.js';

export type AgentStatus = 'online' | 'away' | 'offline';

/** How long a node's presence rows live without a heartbeat (it renews them well before). */
export const PRESENCE_TTL_MS = 30_000;

/**
 * Records one node's view of an agent in a location: `online` or `away` while the agent has
 * sockets there, removed (null) when the last one closes. Returns the agent's status across nodes.
 */
export async function setAgentPresence(
  q: Queryable,
  p: { locationId: string; agentId: string; nodeId: string; status: 'online' | 'away' | null },
  ttlMs = PRESENCE_TTL_MS,
): Promise<AgentStatus> {
  if (p.status === null) {
    await q.query('DELETE FROM agent_presence WHERE location_id = $1 AND agent_id = $2 AND node_id = $3', [
      p.locationId,
      p.agentId,
      p.nodeId,
    ]);
  } else {
    await q.query(
      `INSERT INTO agent_presence (location_id, agent_id, node_id, status, expires_at, updated_at)
       VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5::float8 / 1000), now())
       ON CONFLICT (location_id, agent_id, node_id) DO UPDATE
       SET status = EXCLUDED.status, expires_at = EXCLUDED.expires_at, updated_at = now()`,
      [p.locationId, p.agentId, p.nodeId, p.status, ttlMs],
    );
  }
  return agentStatus(q, p.locationId, p.agentId);
}

/** An agent's status in a location: online on any node wins over away; no live row is offline. */
export async function agentStatus(q: Queryable, locationId: string, agentId: string): Promise<AgentStatus> {
  const { rows } = await q.query<{ status: 'online' | 'away' }>(
    `SELECT status FROM agent_presence
     WHERE location_id = $1 AND agent_id = $2 AND expires_at > now()
     ORDER BY status = 'online' DESC LIMIT 1`,
    [locationId, agentId],
  );
  return rows[0]?.status ?? 'offline';
}

/** Whether at least one agent is online in the location (what a visitor is told). */
export async function locationAgentsOnline(db: Queryable, locationId: string): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT 1 FROM agent_presence
     WHERE location_id = $1 AND status = 'online' AND expires_at > now() LIMIT 1`,
    [locationId],
  );
  return rows.length > 0;
}

/** Of these locations, those with at least one agent online: one query for a node's visitors. */
export async function locationsWithAgentsOnline(q: Queryable, locationIds: string[]): Promise<Set<string>> {
  if (locationIds.length === 0) return new Set();
  const { rows } = await q.query<{ location_id: string }>(
    `SELECT DISTINCT location_id FROM agent_presence
     WHERE location_id = ANY($1::uuid[]) AND status = 'online' AND expires_at > now()`,
    [locationIds],
  );
  return new Set(rows.map((r) => r.location_id));
}

/** Agents with a live row in a location, and their status across nodes. */
export async function locationAgents(
  q: Queryable,
  locationId: string,
): Promise<{ agentId: string; status: 'online' | 'away' }[]> {
  const { rows } = await q.query<{ agent_id: string; status: 'online' | 'away' }>(
    `SELECT agent_id, CASE WHEN bool_or(status = 'online') THEN 'online' ELSE 'away' END AS status
     FROM agent_presence WHERE location_id = $1 AND expires_at > now()
     GROUP BY agent_id ORDER BY agent_id`,
    [locationId],
  );
  return rows.map((r) => ({ agentId: r.agent_id, status: r.status }));
}

/** A node's heartbeat: its rows live another `ttlMs`; expired rows of dead nodes are removed. */
export async function renewNodePresence(
  q: Queryable,
  nodeId: string,
  ttlMs = PRESENCE_TTL_MS,
): Promise<void> {
  await q.query(
    'UPDATE agent_presence SET expires_at = now() + make_interval(secs => $2::float8 / 1000) WHERE node_id = $1',
    [nodeId, ttlMs],
  );
  await q.query("DELETE FROM agent_presence WHERE expires_at < now() - interval '1 minute'");
}

/** A node that stops cleanly takes its agents offline at once. */
export async function clearNodePresence(q: Queryable, nodeId: string): Promise<void> {
  await q.query('DELETE FROM agent_presence WHERE node_id = $1', [nodeId]);
}
