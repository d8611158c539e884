import { describe, expect, it } from '@jest/globals';
import { ConfigError } from '@ephemera/runtime';
import { AccountAllowList } from '@ephemera/schema';
import { loadWorkerConfig } from '../src/config.js';

const KEY = 'a3f1c9e07b5d4e2b8c6a9d1e0f7b3c5a'; // 32 bytes
const base = { DATABASE_URL: 'postgresql://postgres@127.0.0.1/x', QUEUE_SIGNING_KEY: KEY };
const production = { ...base, NODE_ENV: 'production' };

describe(loadWorkerConfig.name, () => {
  describe('QUEUE_SIGNING_KEY', () => {
    it('is required in every mode, production included', () => {
      const { QUEUE_SIGNING_KEY: _none, ...without } = production;
      expect(() => loadWorkerConfig(without)).toThrow(ConfigError);
      expect(() => loadWorkerConfig(without)).toThrow(/QUEUE_SIGNING_KEY is required but not set/);
      expect(() => loadWorkerConfig({ ...without, NODE_ENV: 'development' })).toThrow(/QUEUE_SIGNING_KEY is required/);
      expect(() => loadWorkerConfig({ ...production, QUEUE_SIGNING_KEY: '  ' })).toThrow(/QUEUE_SIGNING_KEY is required/);
    });

    it('is at least 32 bytes, and the message does not repeat it', () => {
      const short = 'x'.repeat(31);
      let error: unknown;
      try {
        loadWorkerConfig({ ...production, ALLOWED_ACCOUNTS: '*', QUEUE_SIGNING_KEY: short });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(/QUEUE_SIGNING_KEY: must be at least 32 bytes/);
      expect((error as Error).message).not.toContain(short);
      // Bytes, not characters: 11 three-byte characters are 33 bytes.
      expect(loadWorkerConfig({ ...base, QUEUE_SIGNING_KEY: '€'.repeat(11) }).QUEUE_SIGNING_KEY).toBe('€'.repeat(11));
    });

    it('reads QUEUE_SIGNING_KEY_PREVIOUS, also at least 32 bytes', () => {
      expect(loadWorkerConfig(base).QUEUE_SIGNING_KEY_PREVIOUS).toBeUndefined();
      expect(loadWorkerConfig({ ...base, QUEUE_SIGNING_KEY_PREVIOUS: 'p'.repeat(32) }).QUEUE_SIGNING_KEY_PREVIOUS).toBe('p'.repeat(32));
      expect(() => loadWorkerConfig({ ...base, QUEUE_SIGNING_KEY_PREVIOUS: 'old' })).toThrow(/QUEUE_SIGNING_KEY_PREVIOUS: must be at least 32 bytes/);
    });
  });

  describe('ALLOWED_ACCOUNTS', () => {
    it('in production, the worker refuses to start without it, naming it and how to allow every account', () => {
      expect(() => loadWorkerConfig(production)).toThrow(ConfigError);
      expect(() => loadWorkerConfig(production)).toThrow(/ALLOWED_ACCOUNTS is not set: in production set it to the GitHub accounts .* or to \* to serve every account/);
      // Empty is unset (docker compose passes VAR= for an unset variable).
      expect(() => loadWorkerConfig({ ...production, ALLOWED_ACCOUNTS: '' })).toThrow(/ALLOWED_ACCOUNTS is not set/);
    });

    it('in production, `*` allows every account on purpose, and logins allow those accounts in any case', () => {
      const any = loadWorkerConfig({ ...production, ALLOWED_ACCOUNTS: '*' }).ALLOWED_ACCOUNTS!;
      expect(any.any).toBe(true);
      expect(any.allows('whoever')).toBe(true);
      const listed = loadWorkerConfig({ ...production, ALLOWED_ACCOUNTS: 'Octo-Org, codertocat ,' }).ALLOWED_ACCOUNTS!;
      expect(listed.any).toBe(false);
      expect(['octo-org', 'CODERTOCAT', 'codertocat-evil', 'octo'].map((login) => listed.allows(login))).toEqual([true, true, false, false]);
      expect(String(listed)).toBe('octo-org,codertocat');
    });

    it('outside production, unset allows every account', () => {
      expect(loadWorkerConfig(base).ALLOWED_ACCOUNTS).toBeUndefined();
      expect(AccountAllowList.ANY.allows('anyone')).toBe(true);
    });

    it('refuses what is not a list of logins, and `*` beside logins', () => {
      for (const bad of [' , ', 'https://github.com/octo-org', 'acme,*', 'a b']) {
        expect(() => loadWorkerConfig({ ...base, ALLOWED_ACCOUNTS: bad })).toThrow(/ALLOWED_ACCOUNTS/);
      }
      expect(() => loadWorkerConfig({ ...base, ALLOWED_ACCOUNTS: 'acme,*' })).toThrow(/\* stands alone/);
    });
  });
});
