/**
 * Content sniffing for uploaded files: a file's type comes from its bytes, never from its name
 * or the type a client declares. Only the LeadConnector upload list is accepted: JPG/JPEG, PNG,
 * MP4, MPEG (video and audio), ZIP, RAR, PDF, DOC, DOCX, TXT, MP3 and WAV.
 *
 * Two families have no magic number of their own, and there the name takes part (never alone):
 * - DOCX is a ZIP archive; it is told from other archives by a `word/document…` entry name
 *   seen anywhere in the archive (entry names are stored uncompressed).
 * - TXT has no signature at all: valid UTF-8 without NUL bytes, and only under a `.txt` name, so
 *   that an HTML page or a script named `photo.png` is refused, not served as text.
 */

export type MediaKind =
  | 'jpeg'
  | 'png'
  | 'mp4'
  | 'mpeg'
  | 'mp3'
  | 'zip'
  | 'rar'
  | 'pdf'
  | 'doc'
  | 'docx'
  | 'txt'
  | 'wav';

export interface SniffedType {
  kind: MediaKind;
  /** The Content-Type the file is served with. */
  contentType: string;
}

/** MIME types of everything the sniffer accepts (the declared-type aliases are not listed). */
export const ALLOWED_CONTENT_TYPES = [
  'image/jpeg',
  'image/png',
  'video/mp4',
  'audio/mp4',
  'video/mpeg',
  'audio/mpeg',
  'application/zip',
  'application/vnd.rar',
  'application/pdf',
  'application/msword',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'text/plain; charset=utf-8',
  'audio/wav',
] as const;

/** Images, audio and video are shown in place; everything else is downloaded. */
export function isInlineType(contentType: string): boolean {
  return /^(image|audio|video)\//.test(contentType);
}

/** How many leading bytes the signatures need. */
const HEAD = 64;

// ISO base media brands of MP4 proper (not QuickTime, HEIF/AVIF or 3GPP, which are refused).
const MP4_VIDEO_BRANDS = new Set([
  'isom',
  'iso2',
  'iso3',
  'iso4',
  'iso5',
  'iso6',
  'iso8',
  'iso9',
  'mp41',
  'mp42',
  'mp71',
  'avc1',
  'dash',
  'M4V ',
  'M4VH',
  'M4VP',
  'f4v ',
  'MSNV',
]);
const MP4_AUDIO_BRANDS = new Set(['M4A ', 'M4B ', 'M4P ', 'F4A ', 'F4B ']);

const DOCX_ENTRY = Buffer.from('word/document', 'latin1');
const DOC_STREAM = Buffer.from('WordDocument', 'utf16le');
const OVERLAP = Math.max(DOCX_ENTRY.length, DOC_STREAM.length) - 1;

const startsWith = (b: Buffer, sig: number[], at = 0) =>
  b.length >= at + sig.length && sig.every((x, i) => b[at + i] === x);
const ascii = (b: Buffer, at: number, text: string) =>
  b.length >= at + text.length && b.toString('latin1', at, at + text.length) === text;

/** An MPEG-1/2/2.5 audio frame header, layers I to III (ADTS AAC, layer "0", is not one). */
function isMpegAudioFrame(b: Buffer, at = 0): boolean {
  if (b.length < at + 4 || b[at] !== 0xff || (b[at + 1]! & 0xe0) !== 0xe0) return false;
  const version = (b[at + 1]! >> 3) & 3;
  const layer = (b[at + 1]! >> 1) & 3;
  const bitrate = b[at + 2]! >> 4;
  const rate = (b[at + 2]! >> 2) & 3;
  return version !== 1 && layer !== 0 && bitrate !== 15 && rate !== 3;
}

/**
 * Streams through a file once, keeping what identification needs: its first bytes, whether it is
 * UTF-8 without NULs, and whether the DOC/DOCX markers appear. Feed it every chunk, then `result`.
 */
export class Sniffer {
  private head = Buffer.alloc(0);
  private tail = Buffer.alloc(0);
  private decoder: TextDecoder | undefined = new TextDecoder('utf-8', { fatal: true });
  private text = true;
  private docxEntry = false;
  private docStream = false;
  size = 0;

  update(chunk: Uint8Array): void {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    this.size += buf.length;
    if (this.head.length < HEAD) {
      this.head = Buffer.concat([this.head, buf.subarray(0, HEAD - this.head.length)]);
    }
    if (this.text) {
      if (buf.includes(0)) this.text = false;
      else {
        try {
          this.decoder!.decode(buf, { stream: true });
        } catch {
          this.text = false;
        }
      }
      if (!this.text) this.decoder = undefined;
    }
    if (!this.docxEntry || !this.docStream) {
      // Markers may straddle two chunks: also search the end of the last one with this one's start.
      const seam = Buffer.concat([this.tail, buf.subarray(0, OVERLAP)]);
      const has = (marker: Buffer) => buf.includes(marker) || seam.includes(marker);
      if (!this.docxEntry && has(DOCX_ENTRY)) this.docxEntry = true;
      if (!this.docStream && has(DOC_STREAM)) this.docStream = true;
      const joined = buf.length >= OVERLAP ? buf : seam;
      this.tail = Buffer.from(joined.subarray(Math.max(0, joined.length - OVERLAP)));
    }
  }

  /** The file's type, or null when it is none of the accepted ones. */
  result(filename: string): SniffedType | null {
    const h = this.head;
    if (this.size === 0) return null;
    if (startsWith(h, [0xff, 0xd8, 0xff])) return { kind: 'jpeg', contentType: 'image/jpeg' };
    if (startsWith(h, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) {
      return { kind: 'png', contentType: 'image/png' };
    }
    if (ascii(h, 0, '%PDF-')) return { kind: 'pdf', contentType: 'application/pdf' };
    if (ascii(h, 0, 'RIFF') && ascii(h, 8, 'WAVE')) return { kind: 'wav', contentType: 'audio/wav' };
    if (ascii(h, 4, 'ftyp') && h.length >= 12) {
      const brand = h.toString('latin1', 8, 12);
      if (MP4_AUDIO_BRANDS.has(brand)) return { kind: 'mp4', contentType: 'audio/mp4' };
      if (MP4_VIDEO_BRANDS.has(brand)) return { kind: 'mp4', contentType: 'video/mp4' };
      return null;
    }
    // MPEG program stream pack header, or an MPEG-1/2 video sequence header.
    if (startsWith(h, [0, 0, 1, 0xba]) || startsWith(h, [0, 0, 1, 0xb3])) {
      return { kind: 'mpeg', contentType: 'video/mpeg' };
    }
    if (ascii(h, 0, 'ID3') || isMpegAudioFrame(h)) return { kind: 'mp3', contentType: 'audio/mpeg' };
    if (startsWith(h, [0x50, 0x4b, 0x03, 0x04]) || startsWith(h, [0x50, 0x4b, 0x05, 0x06])) {
      return this.docxEntry
        ? {
            kind: 'docx',
            contentType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
          }
        : { kind: 'zip', contentType: 'application/zip' };
    }
    if (ascii(h, 0, 'Rar!\x1a\x07\x00') || ascii(h, 0, 'Rar!\x1a\x07\x01\x00')) {
      return { kind: 'rar', contentType: 'application/vnd.rar' };
    }
    // OLE2 compound files are also Excel, PowerPoint and MSI installers: only Word's is a DOC.
    if (startsWith(h, [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])) {
      return this.docStream ? { kind: 'doc', contentType: 'application/msword' } : null;
    }
    if (this.text && /\.txt$/i.test(filename)) {
      try {
        this.decoder!.decode(); // a multi-byte sequence cut off at the end is not UTF-8
        return { kind: 'txt', contentType: 'text/plain; charset=utf-8' };
      } catch {
        return null;
      }
    }
    return null;
  }
}

/** Identifies a file held in memory. */
export function sniffBuffer(bytes: Uint8Array, filename: string): SniffedType | null {
  const s = new Sniffer();
  s.update(bytes);
  return s.result(filename);
}
