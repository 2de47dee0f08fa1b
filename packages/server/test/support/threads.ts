import { randomUUID } from 'node:crypto';
import type { Queryable } from '../../src/storage/db.js';

export interface Thread {
  locationId: string;
  contactId: string;
  conversationId: string;
}

/** A contact with one open conversation. */
export async function seedThread(
  q: Queryable,
  locationId: string,
  contact: { email?: string; phone?: string } = {},
  channel = 'default',
): Promise<Thread> {
  const contactId = randomUUID();
  const conversationId = randomUUID();
  await q.query('INSERT INTO contacts (location_id, id, name, email, phone) VALUES ($1, $2, $3, $4, $5)', [
    locationId,
    contactId,
    'Pat Doe',
    contact.email ?? null,
    contact.phone ?? null,
  ]);
  await q.query('INSERT INTO conversations (location_id, id, contact_id, channel) VALUES ($1, $2, $3, $4)', [
    locationId,
    conversationId,
    contactId,
    channel,
  ]);
  return { locationId, contactId, conversationId };
}
