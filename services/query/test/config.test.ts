import { describe, expect, it } from '@jest/globals';
import { ConfigError } from '@ephemera/runtime';
import { loadQueryConfig } from '../src/config.js';

const base = { DATABASE_URL: 'postgresql://u@localhost/db', SESSION_SECRET: 's'.repeat(32), QUEUE_SIGNING_KEY: 'q'.repeat(32) };
const open = { ...base, API_AUTH: 'none' };

describe(loadQueryConfig.name, () => {
  it('has defaults: port 3002, no tokens only with API_AUTH=none, no Bull Board, read-only', () => {
    expect(loadQueryConfig(open)).toMatchObject({ QUERY_PORT: 3002, API_TOKENS: [], API_AUTH: 'none', ADMIN_WRITE: false });
    expect(loadQueryConfig(open).ADMIN_USERNAME).toBeUndefined();
  });

  it.each(['development', 'test', 'production'])('refuses NODE_ENV=%s without API tokens unless API_AUTH=none says so on purpose', (NODE_ENV) => {
    for (const environment of [{ ...base, NODE_ENV }, { ...base, NODE_ENV, API_AUTH: 'token' }, { ...base, NODE_ENV, API_TOKENS: ' , ' }]) {
      let error: unknown;
      try {
        loadQueryConfig(environment);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(/API_TOKENS is not set: .*API_AUTH=none/);
    }
    expect(loadQueryConfig({ ...base, NODE_ENV, API_AUTH: 'none' }).API_TOKENS).toEqual([]);
    expect(loadQueryConfig({ ...base, NODE_ENV, API_TOKENS: 'x, y' }).API_TOKENS).toEqual(['x', 'y']);
  });

  it('keeps given tokens when API_AUTH=none is set as well (the app then requires them)', () => {
    expect(loadQueryConfig({ ...base, API_TOKENS: 'x', API_AUTH: 'none' })).toMatchObject({ API_TOKENS: ['x'], API_AUTH: 'none' });
  });

  it('reads API_WRITE_TOKENS as a list, empty by default (the actions are then refused)', () => {
    expect(loadQueryConfig(open).API_WRITE_TOKENS).toEqual([]);
    expect(loadQueryConfig({ ...open, API_WRITE_TOKENS: ' w-one , w-two ' }).API_WRITE_TOKENS).toEqual(['w-one', 'w-two']);
  });

  it.each(['development', 'production'])('with NODE_ENV=%s accepts write tokens alone as the API\'s tokens (they read as well)', (NODE_ENV) => {
    const config = loadQueryConfig({ ...base, NODE_ENV, API_WRITE_TOKENS: 'w'.repeat(24) });
    expect(config).toMatchObject({ API_TOKENS: [], API_WRITE_TOKENS: ['w'.repeat(24)] });
    expect(config.API_AUTH).toBeUndefined();
  });

  it('refuses a token that is in both lists, naming its place in the list and not the token', () => {
    let error: unknown;
    try {
      loadQueryConfig({ ...base, API_TOKENS: 'reader-token, shared-token-value', API_WRITE_TOKENS: 'writer-token,shared-token-value' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/API_WRITE_TOKENS: token 2 is in API_TOKENS as well/);
    expect((error as Error).message).not.toContain('shared-token-value');
    expect(loadQueryConfig({ ...base, API_TOKENS: 'reader-token', API_WRITE_TOKENS: 'writer-token' }).API_WRITE_TOKENS).toEqual(['writer-token']);
  });

  it('wants write tokens of at least 20 characters in production, and says which one is short without showing it', () => {
    const write = (tokens: string) => ({ ...base, API_TOKENS: 'tok', API_WRITE_TOKENS: tokens });
    let error: unknown;
    try {
      loadQueryConfig({ ...write(`${'a'.repeat(20)},short-secret`), NODE_ENV: 'production' });
    } catch (err) {
      error = err;
    }
    expect((error as Error).message).toMatch(/API_WRITE_TOKENS: token 2 is 12 characters; in production every write token must be at least 20 characters/);
    expect((error as Error).message).not.toContain('short-secret');
    expect(loadQueryConfig({ ...write('b'.repeat(20)), NODE_ENV: 'production' }).API_WRITE_TOKENS).toEqual(['b'.repeat(20)]);
    expect(loadQueryConfig({ ...write('short'), NODE_ENV: 'development' }).API_WRITE_TOKENS).toEqual(['short']);
  });

  it('starts without Bull Board\'s credentials in every mode (Bull Board is then not served), but wants both together', () => {
    expect(loadQueryConfig({ ...open, NODE_ENV: 'production' }).ADMIN_PASSWORD).toBeUndefined();
    expect(() => loadQueryConfig({ ...open, ADMIN_USERNAME: 'a' })).toThrow(/ADMIN_USERNAME and ADMIN_PASSWORD go together/);
    expect(() => loadQueryConfig({ ...open, ADMIN_PASSWORD: 'a-long-enough-password' })).toThrow(/go together/);
  });

  it('wants an ADMIN_PASSWORD of at least 12 characters in production', () => {
    const admin = (password: string) => ({ ...open, ADMIN_USERNAME: 'admin', ADMIN_PASSWORD: password });
    expect(() => loadQueryConfig({ ...admin('elevenchars'), NODE_ENV: 'production' })).toThrow(/ADMIN_PASSWORD must be at least 12 characters/);
    expect(loadQueryConfig({ ...admin('twelve-chars'), NODE_ENV: 'production' }).ADMIN_PASSWORD).toBe('twelve-chars');
    expect(loadQueryConfig({ ...admin('short'), NODE_ENV: 'development' }).ADMIN_PASSWORD).toBe('short');
  });

  it('reads ADMIN_WRITE as a boolean and names a bad value', () => {
    expect(loadQueryConfig({ ...open, ADMIN_WRITE: 'true' }).ADMIN_WRITE).toBe(true);
    expect(loadQueryConfig({ ...open, ADMIN_WRITE: 'false' }).ADMIN_WRITE).toBe(false);
    expect(() => loadQueryConfig({ ...open, ADMIN_WRITE: 'sure' })).toThrow(/ADMIN_WRITE/);
  });

  it('wants SESSION_SECRET of at least 32 characters in production, and not elsewhere; SESSION_HOURS defaults to 12', () => {
    const { SESSION_SECRET: _unused, ...noSecret } = open;
    expect(() => loadQueryConfig({ ...noSecret, NODE_ENV: 'production' })).toThrow(/SESSION_SECRET must be set/);
    expect(() => loadQueryConfig({ ...open, SESSION_SECRET: 'short', NODE_ENV: 'production' })).toThrow(/SESSION_SECRET must be set to at least 32/);
    expect(loadQueryConfig({ ...noSecret, NODE_ENV: 'development' }).SESSION_SECRET).toBeUndefined();
    expect(loadQueryConfig(open).SESSION_HOURS).toBe(12);
    expect(loadQueryConfig({ ...open, SESSION_HOURS: '2' }).SESSION_HOURS).toBe(2);
  });

  it('signs in with GitHub only with both OAuth credentials and PUBLIC_URL; GitHub addresses default to github.com', () => {
    expect(loadQueryConfig(open)).toMatchObject({ GITHUB_URL: 'https://github.com', GITHUB_API_URL: 'https://api.github.com' });
    expect(() => loadQueryConfig({ ...open, GITHUB_CLIENT_ID: 'Iv1' })).toThrow(/GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET go together/);
    expect(() => loadQueryConfig({ ...open, GITHUB_CLIENT_ID: 'Iv1', GITHUB_CLIENT_SECRET: 'x' })).toThrow(/PUBLIC_URL is not set/);
    expect(loadQueryConfig({ ...open, GITHUB_CLIENT_ID: 'Iv1', GITHUB_CLIENT_SECRET: 'x', PUBLIC_URL: 'https://ephemera.example' }).PUBLIC_URL).toBe('https://ephemera.example');
  });

  it('refuses an http PUBLIC_URL in production unless ALLOW_INSECURE_PUBLIC_URL=true says so on purpose; https always, http elsewhere', () => {
    const prod = { ...open, NODE_ENV: 'production' };
    expect(() => loadQueryConfig({ ...prod, PUBLIC_URL: 'http://ephemera.example' })).toThrow(
      /PUBLIC_URL is http: in production the dashboard's cookies .* set ALLOW_INSECURE_PUBLIC_URL=true to accept that on purpose/,
    );
    expect(loadQueryConfig({ ...prod, PUBLIC_URL: 'http://ephemera.example', ALLOW_INSECURE_PUBLIC_URL: 'true' })).toMatchObject({ PUBLIC_URL: 'http://ephemera.example', ALLOW_INSECURE_PUBLIC_URL: true });
    expect(loadQueryConfig({ ...prod, PUBLIC_URL: 'https://ephemera.example' }).ALLOW_INSECURE_PUBLIC_URL).toBe(false);
    expect(loadQueryConfig({ ...open, NODE_ENV: 'development', PUBLIC_URL: 'http://localhost:3002' }).PUBLIC_URL).toBe('http://localhost:3002');
    expect(() => loadQueryConfig({ ...prod, ALLOW_INSECURE_PUBLIC_URL: 'perhaps' })).toThrow(/ALLOW_INSECURE_PUBLIC_URL/);
  });

  it('caches what GitHub says a person reaches DASHBOARD_ACCESS_SECONDS (60), at most the 5 minutes an answer may serve', () => {
    expect(loadQueryConfig(open).DASHBOARD_ACCESS_SECONDS).toBe(60);
    expect(loadQueryConfig({ ...open, DASHBOARD_ACCESS_SECONDS: '300' }).DASHBOARD_ACCESS_SECONDS).toBe(300);
    expect(loadQueryConfig({ ...open, DASHBOARD_ACCESS_SECONDS: '1' }).DASHBOARD_ACCESS_SECONDS).toBe(1);
    for (const bad of ['0', '301', '1.5', 'soon']) expect(() => loadQueryConfig({ ...open, DASHBOARD_ACCESS_SECONDS: bad })).toThrow(/DASHBOARD_ACCESS_SECONDS/);
  });

  it('allows DASHBOARD_MAX_STREAMS (200) live views in all, a positive whole number', () => {
    expect(loadQueryConfig(open).DASHBOARD_MAX_STREAMS).toBe(200);
    expect(loadQueryConfig({ ...open, DASHBOARD_MAX_STREAMS: '20' }).DASHBOARD_MAX_STREAMS).toBe(20);
    for (const bad of ['0', '-1', 'many']) expect(() => loadQueryConfig({ ...open, DASHBOARD_MAX_STREAMS: bad })).toThrow(/DASHBOARD_MAX_STREAMS/);
  });

  it('keeps the operator sign-in form unless ADMIN_SIGN_IN=off', () => {
    expect(loadQueryConfig(open).ADMIN_SIGN_IN).toBe('on');
    expect(loadQueryConfig({ ...open, ADMIN_SIGN_IN: 'off' }).ADMIN_SIGN_IN).toBe('off');
    expect(() => loadQueryConfig({ ...open, ADMIN_SIGN_IN: 'false' })).toThrow(/ADMIN_SIGN_IN/);
  });

  it('requires QUEUE_SIGNING_KEY in every mode, at least 32 bytes: it signs the redeploy and destroy jobs', () => {
    const { QUEUE_SIGNING_KEY: _none, ...without } = open;
    expect(() => loadQueryConfig({ ...without, NODE_ENV: 'production' })).toThrow(/QUEUE_SIGNING_KEY is required but not set/);
    expect(() => loadQueryConfig(without)).toThrow(/QUEUE_SIGNING_KEY is required but not set/);
    expect(() => loadQueryConfig({ ...open, NODE_ENV: 'production', QUEUE_SIGNING_KEY: 'q'.repeat(31) })).toThrow(/QUEUE_SIGNING_KEY: must be at least 32 bytes/);
    expect(loadQueryConfig({ ...open, NODE_ENV: 'production' }).QUEUE_SIGNING_KEY).toBe('q'.repeat(32));
  });

  it('reads /setup\'s settings: the env file (.ephemera/github-app.env), SETUP_TOKEN (20+ characters in production), SMEE_URL, GITHUB_APP_ID', () => {
    expect(loadQueryConfig(open)).toMatchObject({ GITHUB_APP_ENV_FILE: '.ephemera/github-app.env' });
    expect(loadQueryConfig(open).SETUP_TOKEN).toBeUndefined();
    expect(loadQueryConfig({ ...open, SETUP_TOKEN: 'short' }).SETUP_TOKEN).toBe('short');
    expect(() => loadQueryConfig({ ...open, NODE_ENV: 'production', SETUP_TOKEN: 's'.repeat(19) })).toThrow(/SETUP_TOKEN must be at least 20 characters/);
    expect(loadQueryConfig({ ...open, NODE_ENV: 'production', SETUP_TOKEN: 's'.repeat(20) }).SETUP_TOKEN).toBe('s'.repeat(20));
    expect(loadQueryConfig({ ...open, SMEE_URL: 'https://smee.io/abc', GITHUB_APP_ID: '12' })).toMatchObject({ SMEE_URL: 'https://smee.io/abc', GITHUB_APP_ID: '12' });
    // Only whether it is set: its value is the worker's to check (the manifests' placeholder 0 must not stop the query service).
    expect(loadQueryConfig({ ...open, NODE_ENV: 'production', API_TOKENS: 'tok', GITHUB_APP_ID: '0' }).GITHUB_APP_ID).toBe('0');
  });

  it('reports every problem together', () => {
    expect(() => loadQueryConfig({ ...base, NODE_ENV: 'production', ADMIN_USERNAME: 'a', ADMIN_PASSWORD: 'short' })).toThrow(
      /API_TOKENS is not set[^]*ADMIN_PASSWORD must be at least 12/,
    );
  });

  it('names a missing DATABASE_URL', () => {
    expect(() => loadQueryConfig({})).toThrow(/DATABASE_URL is required/);
  });
});
