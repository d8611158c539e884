import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/** HKDF's salt and context: this key is for sealing GitHub tokens, apart from every other use of SESSION_SECRET. */
const HKDF_SALT = 'ephemera';
const HKDF_INFO = 'ephemera dashboard: GitHub user access tokens at rest (AES-256-GCM)';
const VERSION = 'v1';
/** GCM's standard nonce length; a random one per sealing. */
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Seals short secrets (a GitHub user's access token) with AES-256-GCM under a key derived from SESSION_SECRET with
 * HKDF-SHA256, so what Redis holds is no working token. `context` is bound to the sealed text as additional
 * authenticated data: sealed for one session, it does not open for another. Sealed text is
 * `v1.<iv>.<ciphertext>.<tag>`, each part base64url.
 *
 * @example const cipher = new TokenCipher(config.SESSION_SECRET); cipher.open(cipher.seal(token, key), key) === token
 */
export class TokenCipher {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = Buffer.from(hkdfSync('sha256', secret, HKDF_SALT, HKDF_INFO, 32));
  }

  seal(plain: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const sealed = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return [VERSION, iv, sealed, cipher.getAuthTag()].map((part) => (typeof part === 'string' ? part : part.toString('base64url'))).join('.');
  }

  /** The plain text, or null when `sealed` was not sealed by this key for this context, or was changed since. */
  open(sealed: string, context: string): string | null {
    const [version, iv, text, tag, ...rest] = sealed.split('.');
    if (version !== VERSION || iv === undefined || text === undefined || tag === undefined || rest.length > 0) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(text, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      return null;
    }
  }
}
