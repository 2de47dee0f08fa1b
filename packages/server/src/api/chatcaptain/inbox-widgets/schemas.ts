import { fieldsSchema, INBOX_WIDGET_LIMITS as L } from '../../../core/inbox-widgets/service.js';

const id = (description: string) => ({ type: 'string', maxLength: 100, description });

export const chatbotParams = {
  type: 'object',
  required: ['chatbotId'],
  properties: { chatbotId: id('The Id of the chatbot (a Charla location id).') },
};

export const widgetParams = {
  type: 'object',
  required: ['chatbotId', 'widgetId'],
  properties: {
    chatbotId: id('The Id of the chatbot (a Charla location id).'),
    widgetId: id('The Id of the widget.'),
  },
};

const title = { type: 'string', minLength: 1, maxLength: L.title, example: 'Customer Info' };

export const createBody = {
  type: 'object',
  additionalProperties: false,
  required: ['title'],
  properties: { title, fields: fieldsSchema },
};

export const patchBody = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: { title: { ...title, example: 'Updated Customer Info' }, fields: fieldsSchema },
};

export const valuesQuery = {
  type: 'object',
  properties: {
    conversationId: id('The conversation whose values to read.'),
    contactId: id("The contact whose values to read; defaults to the conversation's contact."),
  },
};

export const writeValuesBody = {
  type: 'object',
  additionalProperties: false,
  required: ['conversationId', 'values'],
  properties: {
    conversationId: id('The conversation the values belong to.'),
    values: {
      type: 'object',
      maxProperties: L.valuesPerWrite,
      propertyNames: { minLength: 1, maxLength: L.variable },
      description: 'Value per variable of your own, checked against its field type; null removes it.',
    },
  },
};
