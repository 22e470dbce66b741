/**
 * A strict reader of Prometheus' text exposition format (version 0.0.4), for tests of `/metrics`: every line is a
 * `# HELP`/`# TYPE` comment or a sample `name{label="value",…} value`, and every sample belongs to a declared
 * family (its name, or the name plus a histogram's `_bucket`, `_sum`, `_count`). Anything else throws, naming the
 * line, so a test scraping a node fails on a malformed exposition.
 */
import assert from 'node:assert/strict';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly types: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: -?\\d+)?$`);
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/;
/** Prometheus reads values with Go's strconv.ParseFloat, which takes Inf and NaN in any case (prom-client writes "Nan"). */
const VALUE = /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?inf|nan)$/i;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(raw: string): number {
  const word = raw.toLowerCase().replace(/^\+/, '');
  return word === 'inf' ? Infinity : word === '-inf' ? -Infinity : word === 'nan' ? NaN : Number(raw);
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text;
  while (rest.length > 0) {
    const m = LABEL.exec(rest);
    assert.ok(m !== null, `malformed labels in ${JSON.stringify(line)}`);
    labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_all, c: string) => (c === 'n' ? '\n' : c));
    rest = rest.slice(m[0].length);
  }
  return labels;
}

export function parsePrometheusText(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = new RegExp(`^# (HELP|TYPE) (${NAME})(?: (.*))?$`).exec(line);
      assert.ok(m !== null, `malformed comment ${JSON.stringify(line)}`);
      if (m[1] === 'TYPE') {
        assert.ok(TYPES.has(m[3] ?? ''), `unknown type in ${JSON.stringify(line)}`);
        types.set(m[2]!, m[3]!);
      }
      continue;
    }
    const m = SAMPLE.exec(line);
    assert.ok(m !== null, `malformed sample ${JSON.stringify(line)}`);
    assert.match(m[3]!, VALUE, `malformed value in ${JSON.stringify(line)}`);
    const name = m[1]!;
    const family = [name, name.replace(/_(bucket|sum|count)$/, '')].find((n) => types.has(n));
    assert.ok(family !== undefined, `sample of an undeclared family: ${JSON.stringify(line)}`);
    samples.push({ name, labels: parseLabels(m[2] ?? '', line), value: parseValue(m[3]!) });
  }
  return { types, samples };
}

/** The sum of the samples named `name` whose labels include `labels`. */
export function sampleSum(exposition: Exposition, name: string, labels: Readonly<Record<string, string>> = {}): number {
  return exposition.samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** Whether any sample is named `name`. */
export function hasSample(exposition: Exposition, name: string): boolean {
  return exposition.samples.some((s) => s.name === name);
}
