// Proactive triggers, evaluated in the browser from the channel's rules. Fetched by the loader
// only for channels that have triggers; it loads the chat app only when one fires. Counts page
// views and visits, follows single-page-app navigation (pushState, replaceState, popstate), and
// keeps each trigger's frequency caps in first-party storage.
import type { Condition, Trigger, TriggerBoot } from './shared';

const boot: TriggerBoot = ({ cfg, store, attrs, prefix, fire }) => {
  const now = Date.now;
  let pageStart = now();
  let firedHere: Record<string, 1> = {};
  const visits: number = store.get('vs') || 0;
  const session = (k: string, set?: 1): string | null | undefined => {
    try {
      if (set) sessionStorage.setItem(prefix + k, '1');
      return sessionStorage.getItem(prefix + k);
    } catch {
      return undefined;
    }
  };
  // A new browser session is a new visit; a visitor with earlier visits is returning.
  if (!session('visit')) {
    session('visit', 1);
    store.set('vs', visits + 1);
  }
  const pageView = () => store.set('pv', (store.get<number>('pv') || 0) + 1);
  pageView();

  const matches = (c: Condition, s: string): boolean => {
    const p = c.pattern || '';
    try {
      return c.match === 'regex'
        ? new RegExp(p).test(s)
        : new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(s);
    } catch {
      return false;
    }
  };
  const device = (): string => {
    const x = innerWidth;
    return x < 768 ? 'mobile' : x < 1025 && matchMedia('(pointer:coarse)').matches ? 'tablet' : 'desktop';
  };
  const ok = (c: Condition): boolean => {
    const v = attrs[c.key || ''];
    const want = c.value;
    switch (c.type) {
      case 'url':
        return matches(c, location.href) || matches(c, location.pathname);
      case 'referrer':
        return matches(c, document.referrer);
      case 'time_on_page':
        return now() - pageStart >= (c.seconds || 0) * 1000;
      case 'page_views':
        return (store.get<number>('pv') || 0) >= (c.min || 0);
      case 'device':
        return device() === c.device;
      case 'returning_visitor':
        return visits > 0 === want;
      case 'attribute':
        switch (c.operator) {
          case 'exists':
            return v != null;
          case 'eq':
            return String(v) === String(want);
          case 'neq':
            return String(v) !== String(want);
          case 'contains':
            return String(v ?? '').includes(String(want));
          case 'gt':
            return Number(v) > Number(want);
          case 'lt':
            return Number(v) < Number(want);
        }
        return false;
      case 'group':
        return all(c.conditions || [], c.match);
    }
    return false;
  };
  const all = (cs: Condition[], m?: string): boolean => (m === 'any' ? cs.some(ok) : cs.every(ok));
  const allowed = (t: Trigger): boolean => {
    const f = t.frequency || {};
    const [n, last]: number[] = store.get(`t.${t.id}`) || [0, 0];
    if (f.maxPerVisitor && n! >= f.maxPerVisitor) return false;
    if (f.cooldownMinutes && now() - last! < f.cooldownMinutes * 6e4) return false;
    return !(f.oncePerSession && session(`t.${t.id}`));
  };
  const check = (): void => {
    for (const t of cfg.proactiveTriggers) {
      if (t.enabled !== false && !firedHere[t.id] && allowed(t) && all(t.conditions, t.match)) {
        firedHere[t.id] = 1;
        store.set(`t.${t.id}`, [(store.get<number[]>(`t.${t.id}`)?.[0] || 0) + 1, now()]);
        session(`t.${t.id}`, 1);
        fire(t);
        return;
      }
    }
  };
  const seconds = (cs: Condition[]): number[] =>
    cs.flatMap((c) =>
      c.type === 'group' ? seconds(c.conditions || []) : c.type === 'time_on_page' ? [c.seconds || 0] : [],
    );
  const timers: ReturnType<typeof setTimeout>[] = [];
  const page = (): void => {
    for (const x of timers.splice(0)) clearTimeout(x);
    for (const t of cfg.proactiveTriggers)
      for (const s of seconds(t.conditions)) timers.push(setTimeout(check, s * 1000 + 50));
    check();
  };
  const route = (): void => {
    pageStart = now();
    firedHere = {};
    pageView();
    page();
  };
  for (const k of ['pushState', 'replaceState'] as const) {
    const orig = history[k];
    history[k] = function (this: History, ...args: Parameters<History['pushState']>) {
      const before = location.href;
      const r = orig.apply(this, args);
      if (location.href !== before) setTimeout(route);
      return r;
    };
  }
  addEventListener('popstate', () => setTimeout(route));
  page();
  return check;
};

(window as unknown as { __charlaTriggers?: (b: TriggerBoot) => void }).__charlaTriggers?.(boot);
