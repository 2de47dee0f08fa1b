/**
 * Call recordings and transcripts as the conversation API stores them on call messages:
 * `messages.call` holds `recordingMediaId` (a stored file), `recordingUrl` (kept elsewhere) and
 * `transcript` (sentences).
 */

/** Message types that carry a call, whose first attachment may be its recording. */
export const CALL_MESSAGE_TYPES: readonly string[] = [
  'TYPE_CALL',
  'TYPE_CUSTOM_CALL',
  'TYPE_IVR_CALL',
  'TYPE_CAMPAIGN_CALL',
  'TYPE_CAMPAIGN_VOICEMAIL',
];

/** One sentence of a call transcript (Twilio's shape, as LeadConnector returns it). */
export interface TranscriptSentence {
  /** The audio channel: one speaker per channel. */
  mediaChannel: number;
  sentenceIndex: number;
  /** Milliseconds from the start of the call, as the spec describes the field. */
  startTime: number;
  endTime: number;
  transcript: string;
  confidence: number;
}

/** The stored transcript in sentence order, or null when there is none. */
export function transcriptOf(call: { transcript?: unknown } | null | undefined): TranscriptSentence[] | null {
  const t = call?.transcript;
  if (!Array.isArray(t) || t.length === 0) return null;
  return [...(t as TranscriptSentence[])].sort((a, b) => a.sentenceIndex - b.sentenceIndex);
}

/** `mm:ss` of a millisecond offset; minutes go past 59 on long calls. */
export function clock(ms: number): string {
  const total = Math.max(0, Math.floor((Number(ms) || 0) / 1000));
  return `${String(Math.floor(total / 60)).padStart(2, '0')}:${String(total % 60).padStart(2, '0')}`;
}

/** The downloadable text: one line per sentence, `[mm:ss] transcript`. */
export function transcriptText(sentences: TranscriptSentence[]): string {
  return sentences
    .map(
      (s) =>
        `[${clock(s.startTime)}] ${String(s.transcript)
          .replace(/\s*[\r\n]+\s*/g, ' ')
          .trim()}\n`,
    )
    .join('');
}
