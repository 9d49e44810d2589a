/**
 * Reads the runtime requirements from the bundled pyproject.toml: the one list of what the
 * server needs, used both to check an interpreter and to install into it.
 */

export interface Requirement {
  /** The requirement as written, e.g. `transformers>=5.0,<6`. */
  spec: string;
  /** The normalized distribution name (PEP 503), e.g. `transformers`. */
  name: string;
}

/** PEP 503 normalization: lower case, runs of `-`, `_`, `.` become one `-`. */
export function normalizeDistName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/**
 * The `[project] dependencies` array of a pyproject.toml. A small reader for this one key
 * (TOML arrays of basic strings, comments allowed), not a TOML parser.
 */
export function parseDependencies(pyproject: string): Requirement[] {
  const project = sectionBody(pyproject, 'project');
  if (project === undefined) throw new Error('pyproject.toml has no [project] section');
  const start = project.search(/^dependencies\s*=\s*\[/m);
  if (start < 0) return [];
  const body = project.slice(project.indexOf('[', start) + 1);
  const requirements: Requirement[] = [];
  for (const rawLine of body.split('\n')) {
    const line = stripComment(rawLine);
    for (const match of line.matchAll(/"([^"]+)"|'([^']+)'/g)) {
      const spec = (match[1] ?? match[2]).trim();
      const name = /^[A-Za-z0-9][A-Za-z0-9._-]*/.exec(spec)?.[0];
      if (name) requirements.push({ spec, name: normalizeDistName(name) });
    }
    if (line.replace(/"[^"]*"|'[^']*'/g, '').includes(']')) break;
  }
  return requirements;
}

function sectionBody(toml: string, section: string): string | undefined {
  const lines = toml.split('\n');
  const header = lines.findIndex((line) => line.trim() === `[${section}]`);
  if (header < 0) return undefined;
  const next = lines.findIndex((line, i) => i > header && /^\s*\[/.test(line));
  return lines.slice(header + 1, next < 0 ? undefined : next).join('\n');
}

function stripComment(line: string): string {
  // A `#` inside a quoted string is part of the string; requirement specs have none, so a
  // quote-aware scan is enough.
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
    } else if (ch === '#') {
      return line.slice(0, i);
    }
  }
  return line;
}
