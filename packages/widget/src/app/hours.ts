// The channel's next opening time, computed in the browser from its operating hours (in the
// channel's time zone) and shown in the visitor's own time zone.
import type { Hours } from '../shared';

const DAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

function parts(t: number, timeZone: string): number[] {
  const f = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
  }).formatToParts(new Date(t));
  const get = (type: string) => Number(f.find((p) => p.type === type)?.value);
  return [get('year'), get('month'), get('day'), get('hour') % 24, get('minute')];
}

/** The instant at wall-clock y-m-d h:mi in the zone (two passes settle DST edges). */
function zoned(y: number, m: number, d: number, hh: number, mi: number, tz: string): number {
  const want = Date.UTC(y, m - 1, d, hh, mi);
  let t = want;
  for (let i = 0; i < 2; i++) {
    const [py, pm, pd, ph, pmi] = parts(t, tz) as [number, number, number, number, number];
    t += want - Date.UTC(py, pm - 1, pd, ph, pmi);
  }
  return t;
}

/** When the channel opens next after `now`, or undefined (no hours, or none in two weeks). */
export function nextOpening(hours: Hours | null, now = Date.now()): Date | undefined {
  if (!hours || hours.enabled === false) return undefined;
  try {
    for (let i = 0; i < 15; i++) {
      const [y, m, d] = parts(now + i * 864e5, hours.timezone) as [number, number, number];
      const date = `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
      const wd = DAYS[new Date(Date.UTC(y, m - 1, d)).getUTCDay()]!;
      const holiday = hours.holidays?.find((x) => x.date === date);
      const list = (holiday ? holiday.hours : hours.days?.[wd]) || [];
      const opens = list
        .map((iv) => {
          const [hh, mi] = iv.open.split(':').map(Number) as [number, number];
          return zoned(y, m, d, hh, mi, hours.timezone);
        })
        .sort((a, b) => a - b);
      const next = opens.find((t) => t > now);
      if (next) return new Date(next);
    }
  } catch {
    // An unknown time zone: say nothing rather than something wrong.
  }
  return undefined;
}
