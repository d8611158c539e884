import { describe, expect, it } from '@jest/globals';
import { constantTimeEqual, constantTimeIncludes, constantTimeIndexOf } from '../src/constant-time.js';

describe(constantTimeEqual.name, () => {
  it('is true for equal strings and equal buffers, and for a string and the buffer of its bytes', () => {
    expect(constantTimeEqual('s3cret-token', 's3cret-token')).toBe(true);
    expect(constantTimeEqual(Buffer.from('abc'), Buffer.from('abc'))).toBe(true);
    expect(constantTimeEqual('café', Buffer.from('café', 'utf8'))).toBe(true);
  });

  it('is false for any difference, lengths included (no throw on unequal lengths)', () => {
    expect(constantTimeEqual('s3cret-token', 's3cret-tokem')).toBe(false);
    expect(constantTimeEqual('s3cret-token', 's3cret-token-longer')).toBe(false);
    expect(constantTimeEqual('', 'x')).toBe(false);
    expect(constantTimeEqual('Token', 'token')).toBe(false);
  });
});

describe(constantTimeIndexOf.name, () => {
  it('finds the candidate equal to the given value, -1 without one', () => {
    expect(constantTimeIndexOf(['a', 'bb', 'ccc'], 'bb')).toBe(1);
    expect(constantTimeIndexOf(['a', 'bb', 'ccc'], 'dd')).toBe(-1);
    expect(constantTimeIndexOf([], 'a')).toBe(-1);
  });

  it('compares every candidate, so a later equal one is the one found', () => {
    expect(constantTimeIndexOf(['x', 'y', 'x'], 'x')).toBe(2);
  });
});

describe(constantTimeIncludes.name, () => {
  it('says whether the given value is among the candidates', () => {
    expect(constantTimeIncludes(['one', 'two'], 'two')).toBe(true);
    expect(constantTimeIncludes(['one', 'two'], 'three')).toBe(false);
    expect(constantTimeIncludes([], '')).toBe(false);
  });
});
