import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import { AppError, invalid, notFound } from '../../core/errors.js';
import { isUuid } from '../../core/ids.js';
import { CALL_MESSAGE_TYPES, type TranscriptSentence } from '../../core/media/calls.js';
import { requireLocation } from '../../http/auth.js';

const num = (description: string, extra: Record<string, unknown> = {}) => ({
  type: 'number',
  minimum: 0,
  description,
  ...extra,
});

const sentence = {
  type: 'object',
  additionalProperties: false,
  required: ['mediaChannel', 'sentenceIndex', 'startTime', 'endTime', 'transcript', 'confidence'],
  properties: {
    mediaChannel: { type: 'integer', minimum: 0, maximum: 100, description: 'Audio channel (speaker)' },
    sentenceIndex: { type: 'integer', minimum: 0 },
    startTime: num('Milliseconds from the start of the call'),
    endTime: num('Milliseconds from the start of the call'),
    transcript: { type: 'string', maxLength: 10_000 },
    confidence: num('From 0 to 1', { maximum: 1 }),
  },
};

const body = {
  type: 'object',
  additionalProperties: false,
  required: ['sentences'],
  properties: { sentences: { type: 'array', items: sentence, maxItems: 5000 } },
};

const params = {
  type: 'object',
  required: ['locationId', 'messageId'],
  properties: { locationId: { type: 'string' }, messageId: { type: 'string' } },
};

/**
 * Sets (or, with no sentences, removes) the transcript of a call message: what the LeadConnector
 * transcription endpoints serve. For call transcription services and imports.
 */
export async function transcriptRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.put<{ Params: { locationId: string; messageId: string }; Body: { sentences: TranscriptSentence[] } }>(
    '/admin/v1/locations/:locationId/messages/:messageId/transcript',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['Admin'],
        summary: 'Set the transcript of a call message',
        description:
          'Replaces the transcript; an empty list removes it. Sentences are served in sentenceIndex order.',
        params,
        body,
      },
    },
    async (req) => {
      const { locationId, messageId } = req.params;
      requireLocation(req, locationId);
      const sentences = [...req.body.sentences].sort((a, b) => a.sentenceIndex - b.sentenceIndex);
      const problems: string[] = [];
      const seen = new Set<number>();
      sentences.forEach((s) => {
        if (s.endTime < s.startTime)
          problems.push(`sentence ${s.sentenceIndex}: endTime is before startTime`);
        if (seen.has(s.sentenceIndex)) problems.push(`sentenceIndex ${s.sentenceIndex} appears twice`);
        seen.add(s.sentenceIndex);
      });
      if (problems.length) throw invalid(problems);
      if (!isUuid(locationId) || !isUuid(messageId)) throw notFound('Message');

      const { rows } = await ctx.db.query<{ type: string }>(
        'SELECT type FROM messages WHERE location_id = $1 AND id = $2',
        [locationId, messageId],
      );
      if (!rows[0]) throw notFound('Message');
      if (!CALL_MESSAGE_TYPES.includes(rows[0].type)) {
        throw new AppError('bad_request', 'Only call messages have transcripts');
      }
      await ctx.db.query(
        `UPDATE messages
         SET call = CASE WHEN $3::jsonb IS NULL THEN coalesce(call, '{}'::jsonb) - 'transcript'
                         ELSE jsonb_set(coalesce(call, '{}'::jsonb), '{transcript}', $3::jsonb) END,
             updated_at = now()
         WHERE location_id = $1 AND id = $2`,
        [locationId, messageId, sentences.length ? JSON.stringify(sentences) : null],
      );
      return { messageId, transcript: sentences };
    },
  );
}
