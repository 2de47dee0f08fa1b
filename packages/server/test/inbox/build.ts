// The inbox's bundle for tests: built (into packages/inbox/dist) when missing or older than its
// sources, so `npm test` needs no build step first.
import { buildInbox, distDir, inboxStale } from '../../../inbox/build.mjs';

export async function ensureInboxBuilt(): Promise<void> {
  if (inboxStale()) await buildInbox({ outdir: distDir });
}
