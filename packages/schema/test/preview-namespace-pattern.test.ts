import { describe, expect, it } from '@jest/globals';
import { MAX_NAMESPACE_LENGTH, PREVIEW_NAMESPACE_PATTERN, PREVIEW_NAMESPACE_PATTERN_SOURCE, namespaceFor } from '../src/index.js';

// PREVIEW_NAMESPACE_PATTERN is what the ValidatingAdmissionPolicy of deploy/kubernetes lets the worker create: every
// name namespaceFor gives must match it (or the worker could not create its own namespaces), and names of the
// cluster's own namespaces, or near misses of the shape, must not.

const repositories = [
  'acme/web',
  'acme/web-app',
  'acme/Web.App',
  'acme/my_repo',
  'acme/--dash--',
  'acme/.dotfile',
  'acme/Café',
  'acme/Ünïcödé-Ñame',
  'acme/İstanbul',
  'acme/ß',
  'acme/emoji😀name',
  'acme/🚀rocket',
  'acme/0',
  'acme/a',
  // Nothing readable is left: the slug is 'repo'.
  'acme/日本語',
  'acme/中文',
  'acme/___',
  // Long names: the slug is cut to fit 63 characters, and a dash at the cut is dropped.
  `acme/${'x'.repeat(100)}`,
  `acme/${'ab-'.repeat(40)}`,
  `acme/${'a'.repeat(45)}-tail`,
  `acme/${'a'.repeat(46)}-tail`,
  `acme/${'long-name-'.repeat(10)}`,
];
const numbers = [1, 7, 10, 42, 99999, 2147483647, Number.MAX_SAFE_INTEGER];
const ids: Array<number | bigint | null> = [null, 1296269, 9007199254740993n];

describe('PREVIEW_NAMESPACE_PATTERN', () => {
  it('matches every name namespaceFor gives (long, unicode, fallback slug; any PR number and repository id)', () => {
    let checked = 0;
    for (const repository of repositories) {
      for (const pr of numbers) {
        for (const id of ids) {
          const name = namespaceFor(repository, pr, id);
          expect(name.length).toBeLessThanOrEqual(MAX_NAMESPACE_LENGTH);
          expect(`${name} ${PREVIEW_NAMESPACE_PATTERN.test(name)}`).toBe(`${name} true`);
          checked++;
        }
      }
    }
    expect(checked).toBe(repositories.length * numbers.length * ids.length);
    // The cases named above do reach the shapes they are there for.
    expect(namespaceFor('acme/日本語', 5)).toMatch(/^pr-5-repo-[0-9a-f]{10}$/);
    expect(namespaceFor(`acme/${'x'.repeat(100)}`, 2147483647)).toHaveLength(MAX_NAMESPACE_LENGTH);
  });

  it('matches neither the cluster\'s own namespaces nor near misses of the shape', () => {
    for (const name of [
      'kube-system',
      'kube-public',
      'kube-node-lease',
      'default',
      'ephemera',
      'ingress-nginx',
      'pr-01-x-0123456789', // leading zero
      'pr-0-x-0123456789', // no pull request 0
      'pr-1-x-ABCDEF0123', // uppercase hash
      'pr-1-x-012345678', // 9 hex characters
      'pr-1-x-0123456789a', // 11
      'pr-1-x-012345678g', // not hex
      'pr-1-0123456789', // no slug
      'pr--x-0123456789', // no number
      'pr-x-0123456789', // no number
      'pr-1--x-0123456789', // slug starting with a dash
      'pr-1-x--0123456789', // slug ending with a dash
      'pr-1-x--y-0123456789', // double dash in the slug
      'pr-1-X-0123456789', // uppercase slug
      'pr-1-x_y-0123456789', // underscore
      'pr-1-x.y-0123456789', // dot
      'pr-1-x-0123456789-', // trailing dash
      'xpr-1-x-0123456789', // prefix
      'pr-1-x-0123456789\n', // a newline at the end
      'PR-1-x-0123456789',
      '',
    ]) {
      expect(`${JSON.stringify(name)} ${PREVIEW_NAMESPACE_PATTERN.test(name)}`).toBe(`${JSON.stringify(name)} false`);
    }
  });

  it('leaves the length to a separate check (as the admission policy does with size(name) <= 63)', () => {
    const tooLong = `pr-1-${'a'.repeat(60)}-0123456789`;
    expect(tooLong.length).toBeGreaterThan(MAX_NAMESPACE_LENGTH);
    expect(PREVIEW_NAMESPACE_PATTERN.test(tooLong)).toBe(true);
  });

  it('is written in the part of the syntax RE2 (CEL\'s matches) and JavaScript share', () => {
    expect(PREVIEW_NAMESPACE_PATTERN_SOURCE).toBe(PREVIEW_NAMESPACE_PATTERN.source);
    expect(PREVIEW_NAMESPACE_PATTERN.flags).toBe('');
    expect(PREVIEW_NAMESPACE_PATTERN_SOURCE.startsWith('^') && PREVIEW_NAMESPACE_PATTERN_SOURCE.endsWith('$')).toBe(true);
    // No lookaround, backreference, named group or escape RE2 reads otherwise.
    expect(PREVIEW_NAMESPACE_PATTERN_SOURCE).not.toMatch(/\(\?[=!<]|\\[1-9]|\\[pPkbB]|\(\?</);
  });
});
