import { describe, expect, it } from '@jest/globals';
import { ConfigError } from '@ephemera/runtime';
import { DEVELOPMENT_WEBHOOK_SECRET, loadIngestConfig } from '../src/config.js';

const STRONG = 'f3b1c9e07a5d4e2b8c6a9d1e0f7b3c5a';
/** QUEUE_SIGNING_KEY, required in every mode (32 bytes). */
const KEY = { QUEUE_SIGNING_KEY: 'c0ffee00c0ffee00c0ffee00c0ffee00' };

describe(loadIngestConfig.name, () => {
  it('stops with a message naming GITHUB_WEBHOOK_SECRET when it is missing or empty', () => {
    expect(() => loadIngestConfig({ ...KEY })).toThrow(ConfigError);
    expect(() => loadIngestConfig({ ...KEY })).toThrow(/GITHUB_WEBHOOK_SECRET is required/);
    expect(() => loadIngestConfig({ ...KEY, GITHUB_WEBHOOK_SECRET: '   ' })).toThrow(/GITHUB_WEBHOOK_SECRET/);
    expect(() => loadIngestConfig({ ...KEY, GITHUB_WEBHOOK_SECRET: ' , ,' })).toThrow(/GITHUB_WEBHOOK_SECRET/);
  });

  it('reads comma-separated secrets and applies defaults', () => {
    const config = loadIngestConfig({ ...KEY, GITHUB_WEBHOOK_SECRET: 'old, new' });
    expect(config.GITHUB_WEBHOOK_SECRET).toEqual(['old', 'new']);
    expect(config.INGEST_PORT).toBe(3001);
    expect(config.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(config.ENQUEUE_TIMEOUT_MS).toBe(3_000);
    expect(config.INGEST_MAX_INFLIGHT_BYTES).toBe(67_108_864);
    expect(config.ALLOWED_ACCOUNTS).toBeUndefined();
  });

  it('rejects a bad port, Redis URL or a timeout GitHub would not wait for', () => {
    expect(() => loadIngestConfig({ ...KEY, GITHUB_WEBHOOK_SECRET: 's', INGEST_PORT: 'eighty' })).toThrow(/INGEST_PORT/);
    expect(() => loadIngestConfig({ ...KEY, GITHUB_WEBHOOK_SECRET: 's', REDIS_URL: 'http://x' })).toThrow(/REDIS_URL/);
    expect(() => loadIngestConfig({ ...KEY, GITHUB_WEBHOOK_SECRET: 's', ENQUEUE_TIMEOUT_MS: '20000' })).toThrow(/ENQUEUE_TIMEOUT_MS/);
  });

  it('reads INGEST_MAX_INFLIGHT_BYTES as a positive number of bytes', () => {
    expect(loadIngestConfig({ ...KEY, GITHUB_WEBHOOK_SECRET: 's', INGEST_MAX_INFLIGHT_BYTES: '1048576' }).INGEST_MAX_INFLIGHT_BYTES).toBe(1_048_576);
    for (const bad of ['0', '-1', '64MiB', '1.5']) {
      expect(() => loadIngestConfig({ ...KEY, GITHUB_WEBHOOK_SECRET: 's', INGEST_MAX_INFLIGHT_BYTES: bad })).toThrow(/INGEST_MAX_INFLIGHT_BYTES/);
    }
  });

  it('reads ALLOWED_ACCOUNTS as comma-separated GitHub logins, or * for every account', () => {
    const listed = loadIngestConfig({ ...KEY, GITHUB_WEBHOOK_SECRET: 's', ALLOWED_ACCOUNTS: 'Octo-Org, codertocat ,' }).ALLOWED_ACCOUNTS!;
    expect(String(listed)).toBe('octo-org,codertocat');
    expect(['OCTO-ORG', 'Codertocat', 'octo'].map((login) => listed.allows(login))).toEqual([true, true, false]);
    expect(loadIngestConfig({ ...KEY, GITHUB_WEBHOOK_SECRET: 's', ALLOWED_ACCOUNTS: '*' }).ALLOWED_ACCOUNTS!.any).toBe(true);
    expect(loadIngestConfig({ ...KEY, GITHUB_WEBHOOK_SECRET: 's', ALLOWED_ACCOUNTS: '' }).ALLOWED_ACCOUNTS).toBeUndefined();
    expect(() => loadIngestConfig({ ...KEY, GITHUB_WEBHOOK_SECRET: 's', ALLOWED_ACCOUNTS: ' , ' })).toThrow(/ALLOWED_ACCOUNTS/);
    expect(() => loadIngestConfig({ ...KEY, GITHUB_WEBHOOK_SECRET: 's', ALLOWED_ACCOUNTS: 'https://github.com/octo-org' })).toThrow(/ALLOWED_ACCOUNTS/);
    expect(() => loadIngestConfig({ ...KEY, GITHUB_WEBHOOK_SECRET: 's', ALLOWED_ACCOUNTS: 'octo-org,*' })).toThrow(/ALLOWED_ACCOUNTS: \* stands alone/);
  });

  it('requires QUEUE_SIGNING_KEY in every mode, at least 32 bytes, without repeating it', () => {
    expect(() => loadIngestConfig({ GITHUB_WEBHOOK_SECRET: 's' })).toThrow(/QUEUE_SIGNING_KEY is required but not set/);
    expect(() => loadIngestConfig({ GITHUB_WEBHOOK_SECRET: STRONG, NODE_ENV: 'production', ALLOWED_ACCOUNTS: '*' })).toThrow(/QUEUE_SIGNING_KEY is required but not set/);
    const short = 'k'.repeat(31);
    expect(() => loadIngestConfig({ GITHUB_WEBHOOK_SECRET: STRONG, NODE_ENV: 'production', ALLOWED_ACCOUNTS: '*', QUEUE_SIGNING_KEY: short })).toThrow(
      /QUEUE_SIGNING_KEY: must be at least 32 bytes/,
    );
    expect(() => loadIngestConfig({ GITHUB_WEBHOOK_SECRET: STRONG, QUEUE_SIGNING_KEY: short })).not.toThrow(new RegExp(short));
    expect(loadIngestConfig({ ...KEY, GITHUB_WEBHOOK_SECRET: STRONG, NODE_ENV: 'production', ALLOWED_ACCOUNTS: '*' }).QUEUE_SIGNING_KEY).toBe(KEY.QUEUE_SIGNING_KEY);
  });

  describe('ALLOWED_ACCOUNTS in production', () => {
    const production = { ...KEY, NODE_ENV: 'production', GITHUB_WEBHOOK_SECRET: STRONG };

    it('refuses to start without it, naming it and how to allow every account on purpose', () => {
      expect(() => loadIngestConfig(production)).toThrow(ConfigError);
      expect(() => loadIngestConfig(production)).toThrow(/ALLOWED_ACCOUNTS is not set: in production set it to the GitHub accounts .* or to \* to serve every account/);
      expect(() => loadIngestConfig({ ...production, ALLOWED_ACCOUNTS: '' })).toThrow(/ALLOWED_ACCOUNTS is not set/);
    });

    it('starts with * (every account, on purpose) or with a list', () => {
      expect(loadIngestConfig({ ...production, ALLOWED_ACCOUNTS: '*' }).ALLOWED_ACCOUNTS!.any).toBe(true);
      expect(loadIngestConfig({ ...production, ALLOWED_ACCOUNTS: 'acme' }).ALLOWED_ACCOUNTS!.allows('ACME')).toBe(true);
    });
  });

  describe('webhook secrets in production', () => {
    const production = { NODE_ENV: 'production', ALLOWED_ACCOUNTS: 'acme' };

    it.each([
      ['shorter than 20 characters', 'a-secret-of-19-char', /is 19 characters; in production every webhook secret must be at least 20 characters/],
      ['the development default', DEVELOPMENT_WEBHOOK_SECRET, /development default/],
    ])('refuses a secret %s, naming GITHUB_WEBHOOK_SECRET and the rule', (_case, value, rule) => {
      let error: unknown;
      try {
        loadIngestConfig({ ...KEY, ...production, GITHUB_WEBHOOK_SECRET: value });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as ConfigError).message;
      expect(message).toMatch(/GITHUB_WEBHOOK_SECRET/);
      expect(message).toMatch(rule);
      // The rule is named, the secret itself is not repeated (the message reaches logs).
      if (value !== DEVELOPMENT_WEBHOOK_SECRET) expect(message).not.toContain(value);
    });

    it('checks every secret of a rotation, saying which one is refused', () => {
      expect(() => loadIngestConfig({ ...KEY, ...production, GITHUB_WEBHOOK_SECRET: `${STRONG},tiny` })).toThrow(
        /GITHUB_WEBHOOK_SECRET: secret 2 of 2 is 4 characters; in production every webhook secret must be at least 20 characters/,
      );
      expect(() => loadIngestConfig({ ...KEY, ...production, GITHUB_WEBHOOK_SECRET: `${DEVELOPMENT_WEBHOOK_SECRET},${STRONG}` })).toThrow(
        /GITHUB_WEBHOOK_SECRET: secret 1 of 2 is the development default/,
      );
    });

    it('accepts long secrets that are not the default', () => {
      const config = loadIngestConfig({ ...KEY, ...production, GITHUB_WEBHOOK_SECRET: `${STRONG}, ${'x'.repeat(20)}` });
      expect(config.GITHUB_WEBHOOK_SECRET).toEqual([STRONG, 'x'.repeat(20)]);
    });

    it.each([['development'], ['test'], [undefined]])('still accepts short and default secrets when NODE_ENV is %s', (mode) => {
      const base = mode ? { NODE_ENV: mode } : {};
      expect(loadIngestConfig({ ...KEY, ...base, GITHUB_WEBHOOK_SECRET: 'short' }).GITHUB_WEBHOOK_SECRET).toEqual(['short']);
      expect(loadIngestConfig({ ...KEY, ...base, GITHUB_WEBHOOK_SECRET: DEVELOPMENT_WEBHOOK_SECRET }).GITHUB_WEBHOOK_SECRET).toEqual([
        DEVELOPMENT_WEBHOOK_SECRET,
      ]);
    });
  });
});
