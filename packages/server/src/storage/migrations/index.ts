import * as m001 from './001_init.js';
import * as m002 from './002_conversations.js';
import * as m004 from './004_visitors.js';
import * as m005 from './005_presence.js';
import * as m006 from './006_threads_and_feedback.js';
import * as m008 from './008_inbox_widgets.js';
import * as m009 from './009_user_sessions.js';
import * as m010 from './010_millisecond_dates.js';

/** Forward-only migrations, applied in order; never edit one that has shipped. */
export const migrations: { id: string; sql: string }[] = [
  { id: '001_init', sql: m001.sql },
  { id: '002_conversations', sql: m002.sql },
  { id: '004_visitors', sql: m004.sql },
  { id: '005_presence', sql: m005.sql },
  { id: '006_threads_and_feedback', sql: m006.sql },
  { id: '008_inbox_widgets', sql: m008.sql },
  { id: '009_user_sessions', sql: m009.sql },
  { id: '010_millisecond_dates', sql: m010.sql },
];
