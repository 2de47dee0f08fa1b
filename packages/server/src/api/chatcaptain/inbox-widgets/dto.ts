import type { FieldValueEntry, InboxWidget } from '../../../core/inbox-widgets/service.js';

/** ChatCaptain's `InboxWidgetDto`. */
export const inboxWidgetDto = (w: InboxWidget) => ({
  id: w.id,
  title: w.title,
  fields: w.fields.map((f) => ({ label: f.label, variable: f.variable, type: f.type })),
  created: w.createdAt.toISOString(),
  updated: w.updatedAt.toISOString(),
});

export const fieldValueDto = (v: FieldValueEntry) => ({
  label: v.label,
  variable: v.variable,
  type: v.type,
  value: v.value,
});
