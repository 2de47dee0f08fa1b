import { WEEKDAYS } from '../widgets/settings-schema.js';

type Settings = Record<string, unknown>;

interface Interval {
  open: string;
  close: string;
}

interface OperatingHours {
  enabled?: boolean;
  timezone: string;
  days?: Partial<Record<(typeof WEEKDAYS)[number], Interval[]>>;
  holidays?: { date: string; hours?: Interval[] }[];
}

interface LocalTime {
  date: string;
  weekday: (typeof WEEKDAYS)[number];
  minutes: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      weekday: 'long',
      hour: '2-digit',
      minute: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Wall-clock date, weekday and minute of the day at `now` in `timeZone` (UTC when unknown). */
export function localTime(now: Date, timeZone: string): LocalTime {
  let f: Intl.DateTimeFormat;
  try {
    f = formatter(timeZone);
  } catch {
    f = formatter('UTC');
  }
  const parts = Object.fromEntries(f.formatToParts(now).map((p) => [p.type, p.value]));
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    weekday: String(parts.weekday).toLowerCase() as LocalTime['weekday'],
    minutes: Number(parts.hour) * 60 + Number(parts.minute),
  };
}

const toMinutes = (hhmm: string) => {
  const [h, m] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
};

function hoursOn(h: OperatingHours, date: string, weekday: LocalTime['weekday']): Interval[] {
  const holiday = h.holidays?.find((d) => d.date === date);
  if (holiday) return holiday.hours ?? [];
  return h.days?.[weekday] ?? [];
}

function previousDay(t: LocalTime): { date: string; weekday: LocalTime['weekday'] } {
  const d = new Date(`${t.date}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() - 1);
  const i = WEEKDAYS.indexOf(t.weekday);
  return { date: d.toISOString().slice(0, 10), weekday: WEEKDAYS[(i + 6) % 7]! };
}

/** Whether the hours have the time open. An interval closing at or before it opens runs past midnight. */
export function openAt(hours: OperatingHours | undefined, now: Date): boolean {
  if (!hours || hours.enabled === false) return true;
  const t = localTime(now, hours.timezone);
  for (const i of hoursOn(hours, t.date, t.weekday)) {
    const open = toMinutes(i.open);
    const close = toMinutes(i.close);
    if (close > open ? t.minutes >= open && t.minutes < close : t.minutes >= open) return true;
  }
  const y = previousDay(t);
  for (const i of hoursOn(hours, y.date, y.weekday)) {
    const open = toMinutes(i.open);
    const close = toMinutes(i.close);
    if (close <= open && t.minutes < close) return true;
  }
  return false;
}

/**
 * Whether the channel takes chats at `now` by its operating hours alone (a department's own
 * hours when it has them). Without hours, or with them disabled, it is always open. The real-time
 * hub combines this with agent presence to tell the widget whether anyone is online.
 */
export function channelOpenNow(settings: Settings, now: Date = new Date(), departmentId?: string): boolean {
  if (departmentId && Array.isArray(settings.departments)) {
    const dept = (settings.departments as { id: string; operatingHours?: OperatingHours }[]).find(
      (d) => d.id === departmentId,
    );
    if (dept?.operatingHours) return openAt(dept.operatingHours, now);
  }
  return openAt(settings.operatingHours as OperatingHours | undefined, now);
}
