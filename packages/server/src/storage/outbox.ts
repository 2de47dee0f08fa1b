import type { Queryable } from './db.js';

export interface OutboxEvent {
  locationId: string | null;
  topic: string;
  payload: Record<string, unknown>;
}

/** PostgreSQL delivers a NOTIFY only when its transaction commits: the relay's wake-up call. */
export const OUTBOX_CHANNEL = 'charla_outbox';

/** Records an event inside the caller's transaction: it is published only if that transaction commits. */
export async function recordEvent(q: Queryable, event: OutboxEvent): Promise<void> {
  await q.query('INSERT INTO outbox (location_id, topic, payload) VALUES ($1, $2, $3)', [
    event.locationId,
    event.topic,
    JSON.stringify(event.payload),
  ]);
  await q.query(`NOTIFY ${OUTBOX_CHANNEL}`);
}
