import { describe, expect, it } from '@jest/globals';
import { loadQueryConfig } from '../src/config.js';

const base = { DATABASE_URL: 'postgresql://u@localhost/db' };

describe(loadQueryConfig.name, () => {
  it('runs open in development, with defaults', () => {
    expect(loadQueryConfig(base)).toMatchObject({ QUERY_PORT: 3002, API_TOKENS: [] });
  });

  it('refuses production without API tokens unless API_AUTH=none says so on purpose', () => {
    const admin = { ADMIN_USERNAME: 'a', ADMIN_PASSWORD: 'b' };
    expect(() => loadQueryConfig({ ...base, ...admin, NODE_ENV: 'production' })).toThrow(/API_TOKENS is required in production/);
    expect(loadQueryConfig({ ...base, ...admin, NODE_ENV: 'production', API_AUTH: 'none' }).API_TOKENS).toEqual([]);
    expect(loadQueryConfig({ ...base, ...admin, NODE_ENV: 'production', API_TOKENS: 'x, y' }).API_TOKENS).toEqual(['x', 'y']);
  });

  it('requires the dashboard credentials in production, and both of them together', () => {
    expect(() => loadQueryConfig({ ...base, NODE_ENV: 'production', API_TOKENS: 'x' })).toThrow(/ADMIN_USERNAME and ADMIN_PASSWORD are required/);
    expect(() => loadQueryConfig({ ...base, ADMIN_USERNAME: 'a' })).toThrow(/go together/);
  });

  it('names a missing DATABASE_URL', () => {
    expect(() => loadQueryConfig({})).toThrow(/DATABASE_URL is required/);
  });
});
