// What the inbox shows, shared by its views, and a tiny event hub between them.
import type { PresenceStatus } from '@charla/protocol';
import type { Live } from './socket.js';

export interface Conv {
  id: string;
  contactId: string;
  locationId: string;
  fullName: string;
  email: string;
  phone: string;
  lastMessageBody: string;
  lastMessageDate?: number;
  lastMessageType?: string;
  lastMessageDirection?: string;
  unreadCount: number;
  starred: boolean;
  assignedTo?: string;
  followers: string[];
  tags: string[];
  status: 'open' | 'closed';
  channel: string;
  departmentId?: string;
  chatWidgetId?: string;
  sort?: [number | string, string];
  dateAdded?: number;
}

export interface Msg {
  id: string;
  messageType: string;
  body?: string | null;
  direction: 'inbound' | 'outbound';
  status: string;
  dateAdded: string;
  userId?: string | null;
  attachments: string[];
  seq?: number;
}

export interface Agent {
  id: string;
  name: string;
  email: string;
  presence?: PresenceStatus | 'offline';
}

export type AssignFilter = 'mine' | 'unassigned' | 'all';
export interface Filters {
  assign: AssignFilter;
  state: 'open' | 'closed';
  /** '' (all), unread or starred: the search's `status`. */
  flag: '' | 'unread' | 'starred';
  channel: string;
  departmentId: string;
  tag: string;
  query: string;
}

export const S = {
  me: { id: '', name: '', email: '' },
  locations: [] as { id: string; name: string }[],
  loc: '',
  agents: new Map<string, Agent>(),
  /** The departments of the location's chat widgets, by id. */
  departments: new Map<string, string>(),
  filters: {
    assign: 'all',
    state: 'open',
    flag: '',
    channel: '',
    departmentId: '',
    tag: '',
    query: '',
  } as Filters,
  list: [] as Conv[],
  current: undefined as string | undefined,
  /** Conversation id → when the visitor's typing indicator lapses. */
  typing: new Map<string, number>(),
  live: undefined as Live | undefined,
  presence: 'online' as PresenceStatus,
};

type Events = {
  open: [id: string];
  conv: [c: Conv];
  typing: [id: string];
  back: [];
};
// biome-ignore lint/suspicious/noExplicitAny: one list per event name, typed by on/emit
const listeners = new Map<string, ((...a: any[]) => void)[]>();
export function on<K extends keyof Events>(name: K, fn: (...a: Events[K]) => void): void {
  listeners.set(name, [...(listeners.get(name) ?? []), fn as (...a: unknown[]) => void]);
}
export function emit<K extends keyof Events>(name: K, ...args: Events[K]): void {
  for (const fn of listeners.get(name) ?? []) fn(...args);
}

export const agentName = (id: string | null | undefined): string =>
  !id ? '' : (S.agents.get(id)?.name ?? id.slice(0, 8));
