import { createDecipheriv, hkdfSync } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { TokenCipher } from '../src/dashboard/token-cipher.js';

const TOKEN = 'ghu_16C7e42F292c6912E7710c838347Ae178B4a';

describe(TokenCipher.name, () => {
  const sut = new TokenCipher('e1b0c7d94f2a6b3c8d5e0f1a2b3c4d5e');

  it('opens what it sealed for the same context, and the sealed text holds nothing of the token', () => {
    const sealed = sut.seal(TOKEN, 'session-a');
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    expect(sealed).not.toContain(TOKEN.slice(4, 12));
    expect(sut.open(sealed, 'session-a')).toBe(TOKEN);
  });

  it('uses a new nonce every time, so the same token never seals the same way twice', () => {
    const a = sut.seal(TOKEN, 'session-a');
    const b = sut.seal(TOKEN, 'session-a');
    expect(a).not.toBe(b);
    expect(a.split('.')[1]).not.toBe(b.split('.')[1]);
  });

  it('is AES-256-GCM under HKDF-SHA256 of the secret, with the context as additional data', () => {
    const [, iv, text, tag] = sut.seal(TOKEN, 'session-a').split('.') as [string, string, string, string];
    const key = Buffer.from(hkdfSync('sha256', 'e1b0c7d94f2a6b3c8d5e0f1a2b3c4d5e', 'ephemera', 'ephemera dashboard: GitHub user access tokens at rest (AES-256-GCM)', 32));
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from('session-a'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    expect(Buffer.concat([decipher.update(Buffer.from(text, 'base64url')), decipher.final()]).toString()).toBe(TOKEN);
  });

  it('refuses (null) another context, another secret, and any change to the sealed text', () => {
    const sealed = sut.seal(TOKEN, 'session-a');
    expect(sut.open(sealed, 'session-b')).toBeNull();
    expect(new TokenCipher('another-secret-of-32-characters!').open(sealed, 'session-a')).toBeNull();
    const [version, iv, text, tag] = sealed.split('.') as [string, string, string, string];
    const flip = (part: string) => {
      const bytes = Buffer.from(part, 'base64url');
      bytes[0] = bytes[0]! ^ 1;
      return bytes.toString('base64url');
    };
    for (const changed of [
      [version, flip(iv), text, tag],
      [version, iv, flip(text), tag],
      [version, iv, text, flip(tag)],
      ['v2', iv, text, tag],
      [version, iv, text],
      [version, iv, text, tag, 'extra'],
      [version, iv, text, tag.slice(0, 10)],
    ]) {
      expect(sut.open(changed.join('.'), 'session-a')).toBeNull();
    }
    expect(sut.open('', 'session-a')).toBeNull();
    expect(sut.open(TOKEN, 'session-a')).toBeNull();
  });
});
