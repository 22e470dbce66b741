/**
 * Colours and marks that read for colour-blind people and in greyscale: the Okabe–Ito palette (Okabe & Ito,
 * "Color Universal Design", 2008), and every kind also differs by shape or pattern, never by hue alone.
 */

/** Okabe–Ito's eight colours. */
export const OKABE_ITO = {
  black: '#000000',
  orange: '#E69F00',
  skyBlue: '#56B4E9',
  bluishGreen: '#009E73',
  yellow: '#F0E442',
  blue: '#0072B2',
  vermillion: '#D55E00',
  reddishPurple: '#CC79A7',
} as const;

/** How an operation ended, as a checker sees it (Jepsen's :ok, :fail, :info). */
export type OutcomeKind = 'ok' | 'failed' | 'indeterminate';
/** A fault shaded over time. */
export type FaultKind = 'partition' | 'kill' | 'pause' | 'crash';
/** The mark drawn at an operation's end or an event's time. */
export type MarkShape = 'circle' | 'cross' | 'triangle' | 'square' | 'diamond' | 'bar';

export interface OutcomeStyle {
  readonly colour: string;
  readonly shape: MarkShape;
  /** Spans are filled solid (ok), hatched (failed) or dotted (indeterminate): distinct in greyscale too. */
  readonly fill: string;
  readonly label: string;
}

export const OUTCOME_STYLES: Readonly<Record<OutcomeKind, OutcomeStyle>> = {
  ok: { colour: OKABE_ITO.bluishGreen, shape: 'circle', fill: OKABE_ITO.bluishGreen, label: 'ok' },
  failed: { colour: OKABE_ITO.vermillion, shape: 'cross', fill: 'url(#pat-failed)', label: 'failed' },
  indeterminate: { colour: OKABE_ITO.orange, shape: 'triangle', fill: 'url(#pat-indeterminate)', label: 'indeterminate' },
};

export interface FaultStyle {
  readonly colour: string;
  /** Background bands: a pattern per kind, so overlapping faults stay apart in greyscale. */
  readonly fill: string;
  readonly label: string;
}

export const FAULT_STYLES: Readonly<Record<FaultKind, FaultStyle>> = {
  partition: { colour: OKABE_ITO.skyBlue, fill: 'url(#pat-partition)', label: 'partition' },
  kill: { colour: OKABE_ITO.reddishPurple, fill: 'url(#pat-kill)', label: 'killed' },
  crash: { colour: OKABE_ITO.reddishPurple, fill: 'url(#pat-kill)', label: 'crashed' },
  pause: { colour: OKABE_ITO.yellow, fill: 'url(#pat-pause)', label: 'paused' },
};

/** Series colours for charts (per operation kind), in an order that keeps neighbours apart. */
export const SERIES_COLOURS: readonly string[] = [OKABE_ITO.blue, OKABE_ITO.vermillion, OKABE_ITO.bluishGreen, OKABE_ITO.orange, OKABE_ITO.reddishPurple, OKABE_ITO.skyBlue, OKABE_ITO.black, OKABE_ITO.yellow];

export function seriesColour(index: number): string {
  return SERIES_COLOURS[((index % SERIES_COLOURS.length) + SERIES_COLOURS.length) % SERIES_COLOURS.length]!;
}

/**
 * A hidden SVG holding the patterns and the arrowhead the styles name: a page includes it once, at the top of
 * its body, and every SVG of the page refers to them by id (ids are page-wide).
 */
export function sharedSvgDefs(): string {
  const hatch = (id: string, colour: string, angle: number, width: number, background: string): string =>
    `<pattern id="${id}" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(${angle})">` +
    `<rect width="6" height="6" fill="${background}"/><line x1="0" y1="0" x2="0" y2="6" stroke="${colour}" stroke-width="${width}"/></pattern>`;
  const dots = (id: string, colour: string, background: string): string =>
    `<pattern id="${id}" patternUnits="userSpaceOnUse" width="5" height="5"><rect width="5" height="5" fill="${background}"/><circle cx="2.5" cy="2.5" r="1.3" fill="${colour}"/></pattern>`;
  return (
    '<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>' +
    hatch('pat-failed', OKABE_ITO.vermillion, 45, 2.5, '#fbe3d4') +
    dots('pat-indeterminate', '#a86f00', '#fcefd0') +
    hatch('pat-partition', OKABE_ITO.skyBlue, 45, 2, 'rgba(86,180,233,0.12)') +
    hatch('pat-kill', OKABE_ITO.reddishPurple, -45, 2, 'rgba(204,121,167,0.12)') +
    dots('pat-pause', '#b5a800', 'rgba(240,228,66,0.18)') +
    '<marker id="arrowhead" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker>' +
    '</defs></svg>'
  );
}

/** An SVG mark of `shape` centred at (x, y), `r` its half-size; stroke and fill in `colour`. */
export function markSvg(shape: MarkShape, x: number, y: number, r: number, colour: string, title?: string): string {
  const t = title === undefined ? '' : `<title>${title}</title>`;
  const f = (n: number): string => n.toFixed(1);
  switch (shape) {
    case 'circle':
      return `<circle cx="${f(x)}" cy="${f(y)}" r="${f(r)}" fill="${colour}">${t}</circle>`;
    case 'square':
      return `<rect x="${f(x - r)}" y="${f(y - r)}" width="${f(2 * r)}" height="${f(2 * r)}" fill="${colour}">${t}</rect>`;
    case 'triangle':
      return `<path d="M${f(x)},${f(y - r)} L${f(x + r)},${f(y + r)} L${f(x - r)},${f(y + r)} z" fill="${colour}">${t}</path>`;
    case 'diamond':
      return `<path d="M${f(x)},${f(y - r)} L${f(x + r)},${f(y)} L${f(x)},${f(y + r)} L${f(x - r)},${f(y)} z" fill="${colour}">${t}</path>`;
    case 'cross':
      return `<path d="M${f(x - r)},${f(y - r)} L${f(x + r)},${f(y + r)} M${f(x + r)},${f(y - r)} L${f(x - r)},${f(y + r)}" stroke="${colour}" stroke-width="2.2" fill="none">${t}</path>`;
    case 'bar':
      return `<rect x="${f(x - 1)}" y="${f(y - r)}" width="2" height="${f(2 * r)}" fill="${colour}">${t}</rect>`;
  }
}

/** An HTML legend entry: a small SVG swatch and its label (label escaped by the caller). */
export function legendSwatch(inner: string, label: string): string {
  return `<span><svg width="22" height="14" viewBox="0 0 22 14" aria-hidden="true">${inner}</svg>${label}</span>`;
}

/** The legend of outcomes and faults, as the timelines draw them. */
export function outcomeAndFaultLegend(faults: readonly FaultKind[] = ['partition', 'kill', 'pause'], withOutcomes = true): string {
  const outcomes = (withOutcomes ? (Object.keys(OUTCOME_STYLES) as OutcomeKind[]) : []).map((k) => {
    const s = OUTCOME_STYLES[k];
    return legendSwatch(`<rect x="1" y="3" width="12" height="8" fill="${s.fill}" stroke="${s.colour}"/>${markSvg(s.shape, 17, 7, 4, s.colour)}`, s.label);
  });
  const shaded = faults.map((k) => {
    const s = FAULT_STYLES[k];
    return legendSwatch(`<rect x="1" y="1" width="20" height="12" fill="${s.fill}" stroke="${s.colour}"/>`, s.label);
  });
  return `<div class="legend">${[...outcomes, ...shaded].join('')}</div>`;
}
