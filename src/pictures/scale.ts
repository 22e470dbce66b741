/**
 * A linear time axis: milliseconds to pixels, and "nice" ticks (1, 2 or 5 times a power of ten, as d3's
 * `ticks`), labelled in ms or s.
 */
import { assert } from '../core/assert.js';

export interface TimeScale {
  readonly start: number;
  readonly end: number;
  /** Pixel of time `t` (clamped to the range, so a stray late event stays on the page). */
  x(t: number): number;
  ticks(): readonly { readonly t: number; readonly label: string }[];
}

/** About this many ticks per axis: enough to read a time off, few enough that labels never collide. */
export const TARGET_TICKS = 8;

/** The tick step nearest `span / count` among 1, 2, 5 × 10^k. */
export function niceStep(span: number, count: number = TARGET_TICKS): number {
  assert(span > 0 && count > 0, 'niceStep: span and count are positive');
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const m = raw / power;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * power;
}

/** "250 ms", "1.5 s", "12 s": milliseconds below a second, seconds from there. */
export function formatMs(ms: number): string {
  if (Math.abs(ms) < 1000) return `${Number(ms.toFixed(ms % 1 === 0 ? 0 : 2))} ms`;
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** Time [start, end] onto pixels [x0, x1]; an empty span is widened to 1 ms. */
export function timeScale(start: number, end: number, x0: number, x1: number): TimeScale {
  assert(Number.isFinite(start) && Number.isFinite(end) && x1 > x0, 'timeScale: a finite domain onto a non-empty range');
  const hi = end > start ? end : start + 1;
  const k = (x1 - x0) / (hi - start);
  return {
    start,
    end: hi,
    x: (t) => x0 + (Math.min(hi, Math.max(start, t)) - start) * k,
    ticks: () => {
      const step = niceStep(hi - start);
      const out: { t: number; label: string }[] = [];
      for (let t = Math.ceil(start / step) * step; t <= hi + step * 1e-9; t += step) out.push({ t, label: formatMs(t) });
      return out;
    },
  };
}
