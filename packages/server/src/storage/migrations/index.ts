import * as m001 from './001_init.js';

/** Forward-only migrations, applied in order; never edit one that has shipped. */
export const migrations: { id: string; sql: string }[] = [{ id: '001_init', sql: m001.sql }];
