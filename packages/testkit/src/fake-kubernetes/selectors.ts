import { badRequest } from './status.js';
import { labelKeyErrors, labelValueErrors } from './names.js';

type Labels = Record<string, string> | undefined;
export type LabelMatcher = (labels: Labels) => boolean;

interface Requirement {
  key: string;
  op: 'in' | 'notin' | 'exists' | '!' | 'gt' | 'lt';
  values: string[];
}

/** Splits at commas outside parentheses: `a in (x,y),b` is two requirements. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts;
}

function checkKey(key: string, whole: string): void {
  const errors = labelKeyErrors(key);
  if (errors.length > 0) throw badRequest(`unable to parse requirement: ${whole}: key: Invalid value: ${JSON.stringify(key)}: ${errors[0]}`);
}

function checkValue(value: string, whole: string, index: number): void {
  const errors = labelValueErrors(value);
  if (errors.length > 0) throw badRequest(`unable to parse requirement: values[${index}][${whole.trim()}]: Invalid value: ${JSON.stringify(value)}: ${errors[0]}`);
}

/**
 * Parses a label selector string as the API server does (labels.Parse): `a=b`, `a==b`, `a!=b`, `a in (x,y)`,
 * `a notin (x)`, `a`, `!a`, `a>1`, `a<1`; commas AND them. A malformed selector is a 400.
 */
export function parseLabelSelector(text: string | undefined | null): LabelMatcher {
  if (!text || !text.trim()) return () => true;
  const requirements: Requirement[] = [];
  for (const raw of splitTopLevel(text)) {
    const part = raw.trim();
    if (!part) throw badRequest(`unable to parse requirement: found '', expected: identifier`);
    let m: RegExpMatchArray | null;
    if ((m = part.match(/^!\s*([^\s=!<>(),]+)$/))) {
      checkKey(m[1]!, part);
      requirements.push({ key: m[1]!, op: '!', values: [] });
    } else if ((m = part.match(/^([^\s=!<>(),]+)\s+(in|notin)\s*\(([^()]*)\)$/))) {
      checkKey(m[1]!, part);
      const values = m[3]!.split(',').map((v) => v.trim());
      values.forEach((v, i) => checkValue(v, part, i));
      requirements.push({ key: m[1]!, op: m[2] as 'in' | 'notin', values });
    } else if ((m = part.match(/^([^\s=!<>(),]+)\s*(==|=|!=)\s*([^\s=!<>(),]*)$/))) {
      checkKey(m[1]!, part);
      checkValue(m[3]!, part, 0);
      requirements.push({ key: m[1]!, op: m[2] === '!=' ? 'notin' : 'in', values: [m[3]!] });
    } else if ((m = part.match(/^([^\s=!<>(),]+)\s*([<>])\s*(-?\d+)$/))) {
      checkKey(m[1]!, part);
      requirements.push({ key: m[1]!, op: m[2] === '>' ? 'gt' : 'lt', values: [m[3]!] });
    } else if ((m = part.match(/^([^\s=!<>(),]+)$/))) {
      checkKey(m[1]!, part);
      requirements.push({ key: m[1]!, op: 'exists', values: [] });
    } else {
      throw badRequest(`unable to parse requirement: found '${part}', expected: in, notin, =, ==, !=, gt, lt`);
    }
  }
  return (labels) => requirements.every((r) => matches(r, labels ?? {}));
}

function matches(r: Requirement, labels: Record<string, string>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  const value = labels[r.key];
  switch (r.op) {
    case 'in':
      return has && r.values.includes(value!);
    case 'notin':
      return !has || !r.values.includes(value!);
    case 'exists':
      return has;
    case '!':
      return !has;
    case 'gt':
      return has && Number.isFinite(Number(value)) && Number(value) > Number(r.values[0]);
    case 'lt':
      return has && Number.isFinite(Number(value)) && Number(value) < Number(r.values[0]);
  }
}

interface LabelSelectorObject {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

/** A metav1.LabelSelector (Deployment selectors, NetworkPolicy pod selectors) against labels. */
export function matchesSelectorObject(selector: LabelSelectorObject | undefined, labels: Labels): boolean {
  if (!selector) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(l, e.key);
    const values = e.values ?? [];
    if (e.operator === 'In' && !(has && values.includes(l[e.key]!))) return false;
    if (e.operator === 'NotIn' && has && values.includes(l[e.key]!)) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

export type FieldMatcher = (obj: Record<string, unknown>) => boolean;

/** Splits on a separator not escaped with a backslash, then unescapes (`\,`, `\=`, `\\`), as fields.ParseSelector does. */
function splitUnescaped(text: string, sep: string): string[] {
  const out: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\' && i + 1 < text.length) {
      current += text[++i];
    } else if (ch === sep) {
      out.push(current);
      current = '';
    } else current += ch;
  }
  out.push(current);
  return out;
}

function fieldValue(obj: Record<string, unknown>, path: string): string {
  let cur: unknown = obj;
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[key];
  }
  if (cur === undefined || cur === null) return '';
  if (typeof cur === 'object') {
    // `source` on Events selects by its component, as the Event field set does.
    const component = (cur as Record<string, unknown>).component;
    return typeof component === 'string' ? component : '';
  }
  return String(cur);
}

/** A fieldSelector: `path=value`, `path==value`, `path!=value`, ANDed by commas; only fields the resource supports. */
export function parseFieldSelector(text: string | undefined | null, supported: string[]): FieldMatcher {
  if (!text || !text.trim()) return () => true;
  const allowed = new Set(['metadata.name', 'metadata.namespace', ...supported]);
  const tests: FieldMatcher[] = [];
  for (const part of text.split(/(?<!\\),/)) {
    const m = part.trim().match(/^([A-Za-z0-9_.]+)\s*(==|=|!=)(.*)$/);
    if (!m) throw badRequest(`invalid selector: '${text}'; can't understand '${part}'`);
    const [, path, op, rawValue] = m as unknown as [string, string, string, string];
    if (!allowed.has(path)) throw badRequest(`field label not supported: ${path}`);
    const value = splitUnescaped(rawValue, '\u0000').join('');
    tests.push(op === '!=' ? (o) => fieldValue(o, path) !== value : (o) => fieldValue(o, path) === value);
  }
  return (obj) => tests.every((t) => t(obj));
}
