/**
 * A reader for the YAML this repository writes (deploy/compose.yaml, deploy/kubernetes/*.yaml), so a test can check
 * their structure without a YAML library (none is a dependency). It takes the block style those files use: mappings,
 * sequences (indented or at their key's indent, as Kubernetes' examples write them), `- key: value` items, plain,
 * single- and double-quoted scalars, flow sequences of scalars, `{}`, comments, anchors (`&a`), aliases (`*a`) and
 * merge keys (`<<: *a`). Scalars stay strings. Anything else (tabs, block scalars, flow mappings with content,
 * several documents, a duplicate key) throws naming the line: a file the reader cannot take fails its test rather
 * than being half read.
 */

export type YamlValue = string | null | YamlValue[] | { [key: string]: YamlValue };

interface Line {
  readonly no: number;
  readonly indent: number;
  readonly text: string;
}

class YamlSubsetError extends Error {
  constructor(line: Line | undefined, message: string) {
    super(line === undefined ? message : `line ${line.no}: ${message}: ${JSON.stringify(line.text)}`);
  }
}

/** The text without a trailing comment (a `#` after whitespace, outside quotes). */
function stripComment(text: string): string {
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote !== undefined) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '#' && (i === 0 || text[i - 1] === ' ')) {
      return text.slice(0, i).trimEnd();
    }
  }
  return text.trimEnd();
}

/** Index of the `:` that ends a mapping key (followed by a space or the end), outside quotes; -1 if none. */
function keyColon(text: string): number {
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote !== undefined) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if ((c === '"' || c === "'") && i === 0) {
      quote = c;
    } else if (c === ':' && (i === text.length - 1 || text[i + 1] === ' ')) {
      return i;
    }
  }
  return -1;
}

function scalar(raw: string, line: Line): string | null {
  const text = raw.trim();
  if (text.startsWith('"')) {
    if (!text.endsWith('"') || text.length < 2) throw new YamlSubsetError(line, 'unterminated double-quoted scalar');
    return text.slice(1, -1).replace(/\\(.)/g, (_all, c: string) => ({ n: '\n', t: '\t', '"': '"', '\\': '\\' })[c] ?? `\\${c}`);
  }
  if (text.startsWith("'")) {
    if (!text.endsWith("'") || text.length < 2) throw new YamlSubsetError(line, 'unterminated single-quoted scalar');
    return text.slice(1, -1).replaceAll("''", "'");
  }
  if (/^[|>]/.test(text)) throw new YamlSubsetError(line, 'block scalars are not read');
  if (text === '~' || text === 'null') return null;
  return text;
}

/** `[a, "b, c", d]`: a flow sequence of scalars. */
function flowSequence(text: string, line: Line): string[] {
  const inner = text.slice(1, -1);
  const items: string[] = [];
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i <= inner.length; i++) {
    const c = inner[i];
    if (quote !== undefined) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === ',' || c === undefined) {
      const item = inner.slice(start, i).trim();
      if (item !== '') items.push(scalar(item, line) ?? '');
      else if (c === ',') throw new YamlSubsetError(line, 'empty item in a flow sequence');
      start = i + 1;
    } else if (c === '[' || c === '{') {
      throw new YamlSubsetError(line, 'nested flow collections are not read');
    }
  }
  return items;
}

class Reader {
  private i = 0;
  private readonly anchors = new Map<string, YamlValue>();

  constructor(private readonly lines: readonly Line[]) {}

  read(): YamlValue {
    if (this.lines.length === 0) return null;
    const value = this.block(this.lines[0]!.indent);
    if (this.i < this.lines.length) throw new YamlSubsetError(this.lines[this.i], 'unexpected indentation');
    return value;
  }

  private get line(): Line | undefined {
    return this.lines[this.i];
  }

  private block(indent: number): YamlValue {
    const line = this.line!;
    return line.text === '-' || line.text.startsWith('- ') ? this.sequence(indent) : this.mapping(indent);
  }

  private sequence(indent: number): YamlValue[] {
    const items: YamlValue[] = [];
    for (let line = this.line; line !== undefined && line.indent === indent && (line.text === '-' || line.text.startsWith('- ')); line = this.line) {
      const rest = line.text === '-' ? '' : line.text.slice(2).trimStart();
      if (rest === '') {
        this.i++;
        const next = this.line;
        items.push(next !== undefined && next.indent > indent ? this.block(next.indent) : null);
      } else if (keyColon(rest) > 0 && !/^["'[]/.test(rest)) {
        // `- key: value`: a mapping whose first key sits on the dash's line, its others at the same column.
        const column = indent + (line.text.length - rest.length);
        (this.lines as Line[])[this.i] = { no: line.no, indent: column, text: rest };
        items.push(this.mapping(column));
      } else {
        this.i++;
        items.push(this.value(rest, line));
      }
    }
    return items;
  }

  private mapping(indent: number): { [key: string]: YamlValue } {
    const map: { [key: string]: YamlValue } = {};
    const merged: Array<{ [key: string]: YamlValue }> = [];
    for (let line = this.line; line !== undefined && line.indent === indent; line = this.line) {
      if (line.text.startsWith('- ')) throw new YamlSubsetError(line, 'a sequence item where a key was expected');
      const colon = keyColon(line.text);
      if (colon <= 0) throw new YamlSubsetError(line, 'expected "key: value"');
      const key = scalar(line.text.slice(0, colon), line) ?? '';
      let rest = line.text.slice(colon + 1).trim();
      this.i++;
      let anchor: string | undefined;
      const anchored = /^&([\w-]+)\s*(.*)$/.exec(rest);
      if (anchored !== null) {
        anchor = anchored[1];
        rest = anchored[2]!;
      }
      let value: YamlValue;
      if (rest === '') {
        const next = this.line;
        if (next !== undefined && next.indent > indent) value = this.block(next.indent);
        else if (next !== undefined && next.indent === indent && (next.text === '-' || next.text.startsWith('- '))) value = this.sequence(indent);
        else value = null;
      } else {
        value = this.value(rest, line);
      }
      if (anchor !== undefined) this.anchors.set(anchor, value);
      if (key === '<<') {
        if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new YamlSubsetError(line, 'a merge key takes a mapping');
        merged.push(value);
        continue;
      }
      if (Object.hasOwn(map, key)) throw new YamlSubsetError(line, `duplicate key ${JSON.stringify(key)}`);
      map[key] = value;
    }
    // Merged keys fill in only what the mapping does not say itself.
    for (const source of merged) for (const [key, value] of Object.entries(source)) if (!Object.hasOwn(map, key)) map[key] = value;
    return map;
  }

  private value(rest: string, line: Line): YamlValue {
    if (rest.startsWith('*')) {
      const name = rest.slice(1).trim();
      if (!this.anchors.has(name)) throw new YamlSubsetError(line, `unknown alias *${name}`);
      return this.anchors.get(name)!;
    }
    if (rest.startsWith('[')) {
      if (!rest.endsWith(']')) throw new YamlSubsetError(line, 'flow sequences must end on their line');
      return flowSequence(rest, line);
    }
    if (rest.startsWith('{')) {
      if (rest.replace(/\s/g, '') === '{}') return {};
      throw new YamlSubsetError(line, 'flow mappings with content are not read');
    }
    return scalar(rest, line);
  }
}

/** Parses one YAML document in the subset above. Throws on anything outside it. */
export function parseYamlSubset(text: string): YamlValue {
  const lines: Line[] = [];
  text.split('\n').forEach((raw, index) => {
    const no = index + 1;
    if (/^\s*\t/.test(raw)) throw new YamlSubsetError({ no, indent: 0, text: raw }, 'tabs in indentation');
    const stripped = stripComment(raw);
    if (stripped.trim() === '') return;
    if (stripped.trim() === '---' || stripped.trim() === '...') {
      if (lines.length > 0) throw new YamlSubsetError({ no, indent: 0, text: raw }, 'one document per file');
      return;
    }
    const indent = stripped.length - stripped.trimStart().length;
    lines.push({ no, indent, text: stripped.trim() });
  });
  return new Reader(lines).read();
}
