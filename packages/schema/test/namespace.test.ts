import { describe, expect, it } from '@jest/globals';
import { MAX_NAMESPACE_LENGTH, isValidNamespace, namespaceFor } from '../src/index.js';

// A small deterministic generator, so the "many names" below are the same on every run.
function* names(seed: number, count: number): Generator<string> {
  const pieces = [
    'api', 'Web.App', 'my_repo', 'café', 'Ünïcödé', '日本語', '🚀rocket', '--dash--', '.dotfile', 'UPPER',
    'a', '0', 'x'.repeat(100), 'mixed-Case_and.dots', 'ends-', '-starts', 'emoji😀name', 'ß', 'İstanbul', 'ÅngströM',
  ];
  let s = seed;
  const next = () => (s = (s * 1103515245 + 12345) % 2 ** 31);
  for (let i = 0; i < count; i++) {
    const owner = `owner${next() % 50}`;
    const repo = Array.from({ length: 1 + (next() % 3) }, () => pieces[next() % pieces.length]).join(
      ['-', '.', '_', ''][next() % 4]!,
    );
    yield `${owner}/${repo}`;
  }
}

describe(namespaceFor.name, () => {
  it('reads as pr-<number>-<repo>-<hash>', () => {
    expect(namespaceFor('acme/web-app', 42)).toMatch(/^pr-42-web-app-[0-9a-f]{10}$/);
  });

  it('gives a valid DNS-1123 label of at most 63 characters for any repository name', () => {
    for (const fullName of names(1, 3000)) {
      for (const pr of [1, 42, 99999, 2147483647]) {
        const ns = namespaceFor(fullName, pr);
        expect(ns.length).toBeLessThanOrEqual(MAX_NAMESPACE_LENGTH);
        expect(isValidNamespace(ns)).toBe(true);
        expect(ns.startsWith(`pr-${pr}-`)).toBe(true);
      }
    }
  });

  it('is unique across owners and repositories whose names fold alike', () => {
    const seen = new Map<string, string>();
    const all = [
      ...names(2, 5000),
      'acme/api', 'other/api', 'acme/my.repo', 'acme/my_repo', 'acme/my-repo', 'acme/myrepo',
      'acme/café', 'acme/cafe', 'acme/日本語', 'acme/中文', `acme/${'x'.repeat(100)}`, `acme/${'x'.repeat(99)}y`,
    ];
    for (const fullName of all) {
      const key = fullName.toLowerCase();
      const ns = namespaceFor(fullName, 7);
      const previous = seen.get(ns);
      if (previous !== undefined) expect(previous).toBe(key);
      seen.set(ns, key);
    }
    expect(new Set(all.map((n) => n.toLowerCase())).size).toBe(seen.size);
  });

  it('gives names that differ only in owner different namespaces', () => {
    expect(namespaceFor('alice/app', 1)).not.toBe(namespaceFor('bob/app', 1));
  });

  it('gives names that differ only in case the same namespace (GitHub treats them as one repository)', () => {
    expect(namespaceFor('Acme/Web-App', 3)).toBe(namespaceFor('acme/web-app', 3));
  });

  it('keeps the PR number distinct', () => {
    expect(namespaceFor('acme/app', 1)).not.toBe(namespaceFor('acme/app', 11));
  });

  it('folds accents and falls back to "repo" when nothing readable is left', () => {
    expect(namespaceFor('acme/Café', 5)).toMatch(/^pr-5-cafe-[0-9a-f]{10}$/);
    expect(namespaceFor('acme/日本語', 5)).toMatch(/^pr-5-repo-[0-9a-f]{10}$/);
  });

  it('rejects what cannot name a pull request', () => {
    expect(() => namespaceFor('acme/app', 0)).toThrow(RangeError);
    expect(() => namespaceFor('acme/app', 1.5)).toThrow(RangeError);
    expect(() => namespaceFor('no-slash', 1)).toThrow('owner/name');
    expect(() => namespaceFor('acme/app', -3)).toThrow('invalid pull request number: -3');
  });

  it('reads a name with spaces around it as the name', () => {
    expect(namespaceFor('  acme/web \n', 2)).toBe(namespaceFor('acme/web', 2));
  });
});

describe(isValidNamespace.name, () => {
  it('takes a DNS-1123 label of at most 63 characters, and nothing else', () => {
    expect(isValidNamespace('a'.repeat(63))).toBe(true);
    expect(isValidNamespace('a'.repeat(64))).toBe(false);
    expect(isValidNamespace('Pr-1')).toBe(false);
    expect(isValidNamespace('pr-1-')).toBe(false);
  });
});
