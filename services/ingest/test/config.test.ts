import { describe, expect, it } from '@jest/globals';
import { ConfigError } from '@ephemera/runtime';
import { loadIngestConfig } from '../src/config.js';

describe(loadIngestConfig.name, () => {
  it('stops with a message naming GITHUB_WEBHOOK_SECRET when it is missing or empty', () => {
    expect(() => loadIngestConfig({})).toThrow(ConfigError);
    expect(() => loadIngestConfig({})).toThrow(/GITHUB_WEBHOOK_SECRET is required/);
    expect(() => loadIngestConfig({ GITHUB_WEBHOOK_SECRET: '   ' })).toThrow(/GITHUB_WEBHOOK_SECRET/);
    expect(() => loadIngestConfig({ GITHUB_WEBHOOK_SECRET: ' , ,' })).toThrow(/GITHUB_WEBHOOK_SECRET/);
  });

  it('reads comma-separated secrets and applies defaults', () => {
    const config = loadIngestConfig({ GITHUB_WEBHOOK_SECRET: 'old, new' });
    expect(config.GITHUB_WEBHOOK_SECRET).toEqual(['old', 'new']);
    expect(config.INGEST_PORT).toBe(3001);
    expect(config.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(config.ENQUEUE_TIMEOUT_MS).toBe(3_000);
  });

  it('rejects a bad port, Redis URL or a timeout GitHub would not wait for', () => {
    expect(() => loadIngestConfig({ GITHUB_WEBHOOK_SECRET: 's', INGEST_PORT: 'eighty' })).toThrow(/INGEST_PORT/);
    expect(() => loadIngestConfig({ GITHUB_WEBHOOK_SECRET: 's', REDIS_URL: 'http://x' })).toThrow(/REDIS_URL/);
    expect(() => loadIngestConfig({ GITHUB_WEBHOOK_SECRET: 's', ENQUEUE_TIMEOUT_MS: '20000' })).toThrow(/ENQUEUE_TIMEOUT_MS/);
  });
});
