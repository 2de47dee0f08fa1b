const id = { type: 'string', minLength: 1, maxLength: 100 };

/**
 * The multipart form, for the API document only: with no root `type`, validating it passes (the
 * form is read as a stream by the handler, which checks it).
 */
export const uploadForm = {
  content: {
    'multipart/form-data': {
      schema: {
        required: ['conversationId', 'contactId', 'locationId', 'fileAttachment'],
        properties: {
          conversationId: { type: 'string' },
          contactId: { type: 'string' },
          locationId: { type: 'string' },
          fileAttachment: {
            type: 'array',
            maxItems: 10,
            description: 'The files (5 MB each, at most 10), under this one key',
            items: { type: 'string', format: 'binary' },
          },
        },
      },
    },
  },
};

export const initiateBody = {
  type: 'object',
  required: ['locationId', 'conversationId', 'filename', 'contentType', 'channel'],
  properties: {
    locationId: id,
    conversationId: id,
    filename: {
      type: 'string',
      minLength: 1,
      maxLength: 255,
      description: 'Original filename with extension',
    },
    contentType: {
      type: 'string',
      maxLength: 200,
      description: 'Declared MIME type; the stored type is sniffed from the bytes on completion',
    },
    fileSize: { type: 'number', minimum: 0, description: 'File size in bytes, checked before the upload' },
    channel: { type: 'string', maxLength: 50, description: 'WHATSAPP: 100 MB limit; any other: 5 MB' },
  },
};

export const completeBody = {
  type: 'object',
  required: ['uploadId', 'filePath', 'locationId', 'conversationId', 'filename'],
  properties: {
    uploadId: id,
    filePath: { type: 'string', minLength: 1, maxLength: 500 },
    locationId: id,
    conversationId: id,
    filename: { type: 'string', minLength: 1, maxLength: 255, description: 'Key of the uploadedFiles map' },
  },
};

const uploadedFiles = {
  type: 'object',
  description: 'Filename → public URL of the stored file',
  additionalProperties: { type: 'string' },
};

// Only the 200 bodies are declared: a declared error schema would also filter the other faces'
// error bodies of that status (`statusCode`, `error`) out of the answer.
export const uploadResponses = {
  200: { type: 'object', properties: { uploadedFiles } },
};

export const initiateResponses = {
  200: {
    type: 'object',
    properties: {
      uploadUrl: {
        type: 'string',
        description: 'Signed PUT URL (15 minutes); send the raw file as the body',
      },
      uploadId: { type: 'string' },
      filePath: { type: 'string' },
      expiresAt: { type: 'number', description: 'Expiry of uploadUrl (Unix ms)' },
      maxFileSize: { type: 'number' },
    },
  },
};

export const completeResponses = {
  200: {
    type: 'object',
    properties: {
      uploadedFiles,
      metadata: {
        type: 'object',
        properties: { size: { type: 'number' }, contentType: { type: 'string' } },
      },
    },
  },
};
