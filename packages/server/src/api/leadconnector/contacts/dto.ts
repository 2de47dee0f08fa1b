import type { Contact } from '../../../core/contacts/service.js';

/**
 * A contact in LeadConnector's shape (GetContectByIdSchema, as the official SDK spells it), kept
 * to what Charla stores. Unset fields are null; `contactName` is the name as given (or first and
 * last name joined), not lower-cased; `firstNameRaw`/`lastNameRaw` repeat the names as given.
 */
export function contactDto(c: Contact) {
  const fullName = [c.firstName, c.lastName].filter(Boolean).join(' ');
  return {
    id: c.id,
    locationId: c.locationId,
    firstName: c.firstName,
    lastName: c.lastName,
    name: c.name,
    contactName: c.name ?? (fullName || null),
    firstNameRaw: c.firstName ?? undefined,
    lastNameRaw: c.lastName ?? undefined,
    email: c.email,
    phone: c.phone,
    companyName: c.companyName,
    tags: c.tags,
    customFields: Object.entries(c.customFields).map(([id, value]) => ({ id, value })),
    source: c.source,
    dateAdded: c.createdAt.toISOString(),
    dateUpdated: c.updatedAt.toISOString(),
  };
}
