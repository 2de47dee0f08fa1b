// What the loader hands the app, and the channel config both read. Type-only: nothing here is
// bundled twice.

export type Localized = string | Record<string, string>;

export interface PrechatField {
  id: string;
  type: 'text' | 'email' | 'phone' | 'select' | 'checkbox' | 'textarea';
  label: Localized;
  placeholder?: Localized;
  required?: boolean;
  options?: { value: string; label?: Localized }[];
  regex?: string;
  maxLength?: number;
}

export interface Hours {
  enabled?: boolean;
  timezone: string;
  days?: Record<string, { open: string; close: string }[]>;
  holidays?: { date: string; hours?: { open: string; close: string }[] }[];
}

export interface Condition {
  type: string;
  match?: string;
  pattern?: string;
  seconds?: number;
  min?: number;
  device?: string;
  value?: unknown;
  key?: string;
  operator?: string;
  conditions?: Condition[];
}

export interface Trigger {
  id: string;
  name?: string;
  enabled?: boolean;
  match: 'all' | 'any';
  conditions: Condition[];
  action: { type: 'open' | 'message'; message?: Localized };
  frequency?: { maxPerVisitor?: number; oncePerSession?: boolean; cooldownMinutes?: number };
}

/** `GET /web-chat/:token/config` → data. */
export interface Config {
  id: string;
  name: string;
  enabled: boolean;
  /** Within operating hours. */
  open?: boolean;
  agentsOnline?: boolean;
  /** Open and an agent online. */
  online: boolean;
  color: string | null;
  position?: 'left' | 'right';
  sound?: boolean;
  welcomeMessage: string | null;
  heading: string | null;
  subHeading: string | null;
  locale: string | null;
  identityRequired: boolean;
  requireEmailUpfront: boolean;
  prechatFields: PrechatField[];
  departments: { id: string; name: string; online: boolean }[];
  operatingHours: Hours | null;
  offlineAction: {
    type: 'HIDE_LAUNCHER' | 'OFFLINE_FORM' | 'MESSAGE_ALLOW';
    collectEmail?: boolean;
    formFieldIds?: string[];
  } | null;
  offlineMessage: string | null;
  linkEmailBannerEnabled: boolean;
  typingIndicatorEnabled: boolean;
  readReceiptEnabled: boolean;
  proactiveTriggers: Trigger[];
  allowAttachments: boolean;
}

/**
 * First-party storage on the host page, per channel; never throws (storage may be blocked).
 * Setting null removes a value (reads give undefined).
 */
export interface Store {
  get<T = unknown>(key: string): T | undefined;
  set(key: string, value: unknown): void;
  clear(): void;
}

export interface Host {
  /** Charla's origin (and path prefix), e.g. `https://chat.example.com`. */
  base: string;
  token: string;
  cfg: Config;
  root: ShadowRoot;
  /** The positioned container inside the shadow root (launcher and panel live in it). */
  wrap: HTMLElement;
  launcher: HTMLButtonElement;
  nonce: string | undefined;
  /** `data-locale` on the script tag. */
  locale: string | undefined;
  version: string;
  store: Store;
  emit(event: string, data?: unknown): void;
  /** Shows the unread count on the launcher. */
  badge(n: number): void;
}

export interface App {
  call(name: string, args: unknown[]): unknown;
  /** A proactive trigger fired (action `open` or `message`). */
  proactive(t: Trigger): void;
}

export const SDK_METHODS = [
  'open',
  'close',
  'toggle',
  'show',
  'hide',
  'identify',
  'setAttributes',
  'setLocale',
  'sendMessage',
  'trigger',
  'reset',
  'on',
  'off',
] as const;

/** What triggers.js gets from the loader; it answers with a function that re-checks the rules. */
export type TriggerBoot = (ctx: {
  cfg: Config;
  store: Store;
  attrs: Record<string, unknown>;
  prefix: string;
  fire(t: Trigger): void;
}) => () => void;
