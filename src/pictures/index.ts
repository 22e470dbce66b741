/** Self-contained HTML pictures: strings only, no I/O (the chart library's files come from `src/platform/chart-assets.ts`). */
export { BASE_CSS, PAGE_DATA_SCRIPT, escapeHtml, htmlDocument, jsonForScript, type HtmlDocument } from './html.js';
export { FAULT_STYLES, OKABE_ITO, OUTCOME_STYLES, SERIES_COLOURS, legendSwatch, markSvg, outcomeAndFaultLegend, seriesColour, sharedSvgDefs, type FaultKind, type MarkShape, type OutcomeKind } from './palette.js';
export { TARGET_TICKS, formatMs, niceStep, timeScale, type TimeScale } from './scale.js';
export { LAMPORT_MAX_HEIGHT_PX, MAX_LAMPORT_MESSAGES, renderLamport, type LamportDiagram, type LamportLane, type LamportMessage } from './lamport.js';
export { MAX_TIMELINE_ITEMS, renderTimeline, type Timeline, type TimelineBand, type TimelineMark, type TimelineRow, type TimelineSpan } from './timeline.js';
export { UPLOT_BOOT_SCRIPT, chartElement, chartsCss, type ChartAssets, type ChartSeries, type ChartSpec } from './charts.js';
