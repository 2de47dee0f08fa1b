import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../../../context.js';
import type { CustomFieldValue } from '../../../core/contacts/fields.js';
import * as contacts from '../../../core/contacts/service.js';
import { invalid } from '../../../core/errors.js';
import { requireLocation } from '../../../http/auth.js';
import { contactDto } from './dto.js';
import { contactParams, createBody, updateBody, upsertBody } from './schemas.js';

type CustomFieldInput = { id?: string; key?: string; field_value?: unknown; value?: unknown };
type Body = Omit<contacts.ContactFields, 'customFields'> & {
  customFields?: CustomFieldInput[];
};
type NewBody = Body & { locationId: string; createNewIfDuplicateAllowed?: boolean };
type Params = { contactId: string };

const tags = ['Contacts'];

/** LeadConnector's custom field list as values by id; the key stands in for a missing id. */
function customFieldValues(
  list: CustomFieldInput[] | undefined,
): Record<string, CustomFieldValue | null> | undefined {
  if (!list) return undefined;
  const problems: string[] = [];
  const out: Record<string, CustomFieldValue | null> = {};
  list.forEach((f, i) => {
    const id = f.id ?? f.key;
    const value = f.field_value !== undefined ? f.field_value : f.value;
    if (id === undefined) problems.push(`customFields.${i} must have an id or a key`);
    else if (value === undefined) problems.push(`customFields.${i} must have a field_value`);
    else if (id in out) problems.push(`customFields.${i} repeats the field ${id}`);
    else out[id] = value as CustomFieldValue | null;
  });
  if (problems.length) throw invalid(problems);
  return out;
}

const fieldsOf = ({ customFields, ...rest }: Body): contacts.ContactFields => ({
  ...rest,
  customFields: customFieldValues(customFields),
});

const newContactOf = ({ createNewIfDuplicateAllowed: _ignored, ...b }: NewBody): contacts.NewContact => ({
  ...fieldsOf(b),
  locationId: b.locationId,
});

export async function contactRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const { db } = ctx;

  /**
   * The contact, looked up only in the locations the caller's key reaches: another location's
   * contact is a 404, indistinguishable from one that does not exist.
   */
  const accessible = async (req: FastifyRequest, id: string) => {
    const contact = await contacts.findContactById(db, id, req.principal!.locationIds);
    requireLocation(req, contact.locationId);
    return contact;
  };

  app.post<{ Body: NewBody }>(
    '/contacts/',
    {
      config: { scope: 'contacts.write' },
      schema: { tags, summary: 'Create a contact', body: createBody },
    },
    async (req, reply) => {
      requireLocation(req, req.body.locationId);
      const contact = await contacts.createContact(db, newContactOf(req.body));
      return reply.status(201).send({ contact: contactDto(contact) });
    },
  );

  app.post<{ Body: NewBody }>(
    '/contacts/upsert',
    {
      config: { scope: 'contacts.write' },
      schema: {
        tags,
        summary: 'Upsert a contact (match by email, then phone)',
        description: '201 when a contact was created, 200 when an existing one was updated.',
        body: upsertBody,
      },
    },
    async (req, reply) => {
      requireLocation(req, req.body.locationId);
      const { contact, created } = await contacts.upsertContact(db, newContactOf(req.body));
      return reply
        .status(created ? 201 : 200)
        .send({ new: created, contact: contactDto(contact), traceId: req.id });
    },
  );

  app.get<{ Params: Params }>(
    '/contacts/:contactId',
    {
      config: { scope: 'contacts.readonly' },
      schema: { tags, summary: 'Get a contact', params: contactParams },
    },
    async (req) => ({ contact: contactDto(await accessible(req, req.params.contactId)) }),
  );

  app.put<{ Params: Params; Body: Body }>(
    '/contacts/:contactId',
    {
      config: { scope: 'contacts.write' },
      schema: { tags, summary: 'Update a contact (partial)', params: contactParams, body: updateBody },
    },
    async (req) => {
      const found = await accessible(req, req.params.contactId);
      const contact = await contacts.updateContact(db, found.locationId, found.id, fieldsOf(req.body ?? {}));
      return { succeded: true, contact: contactDto(contact) };
    },
  );

  app.delete<{ Params: Params }>(
    '/contacts/:contactId',
    {
      config: { scope: 'contacts.write' },
      schema: {
        tags,
        summary: 'Delete a contact',
        description: 'Erases the contact, its conversations, their messages and media.',
        params: contactParams,
      },
    },
    async (req) => {
      const found = await accessible(req, req.params.contactId);
      const erasure = await contacts.deleteContact(ctx, found.locationId, found.id);
      if (erasure.fileErrors.length) {
        req.log.warn({ contactId: found.id, fileErrors: erasure.fileErrors }, 'media files left on disk');
      }
      return { succeded: true };
    },
  );
}
