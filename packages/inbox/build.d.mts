export const distDir: string;
export function buildInbox(options?: { outdir?: string }): Promise<{
  files: Record<string, Buffer>;
  js: string;
  css: string;
}>;
export function inboxStale(outdir?: string): boolean;
