import { describe, expect, it } from '@jest/globals';
import { repositoryIdentity, repositoryKey, sameRepository, type RepositoryRef } from '../src/index.js';

// "The same repository", the rule every path follows: by GitHub's id when both sides carry one, else by full name
// compared case-insensitively. (packages/db's tests hold its SQL and Prisma twins to these answers.)

const ref = (repositoryId: RepositoryRef['repositoryId'], repositoryFullName: string): RepositoryRef => ({ repositoryId, repositoryFullName });

describe(repositoryIdentity.name, () => {
  it('is the id when known, whatever the name', () => {
    expect(repositoryIdentity(ref(1296269, 'Acme/Web'))).toBe('1296269');
    expect(repositoryIdentity(ref(1296269n, 'other/name'))).toBe('1296269');
  });
  it('is the full name in lower case without one', () => {
    expect(repositoryIdentity(ref(null, 'Acme/Web'))).toBe('acme/web');
  });
  it('treats id 0 as an id, not as "unknown"', () => {
    expect(repositoryIdentity(ref(0, 'Acme/Web'))).toBe('0');
  });
});

describe(repositoryKey.name, () => {
  it('has the fixed form lock keys and namespace hashes were made with', () => {
    expect(repositoryKey(ref(1296269, 'Acme/Web'))).toBe('repository:1296269');
    expect(repositoryKey(ref(0, 'Acme/Web'))).toBe('repository:0');
    expect(repositoryKey(ref(null, 'Acme/Web'))).toBe('acme/web');
  });
});

describe(sameRepository.name, () => {
  it.each([
    [ref(1, 'acme/web'), ref(1, 'acme/web'), true],
    [ref(1, 'acme/web'), ref(1n, 'Acme/Renamed'), true], // renamed: the id decides
    [ref(1, 'acme/web'), ref(2, 'acme/web'), false], // recreated under the old name
    [ref(0, 'acme/web'), ref(2, 'acme/web'), false],
    [ref(null, 'Acme/Web'), ref(1, 'acme/WEB'), true], // one side without an id: by name, in any case
    [ref(1, 'Acme/Web'), ref(null, 'acme/web'), true],
    [ref(1, 'acme/web'), ref(null, 'acme/api'), false],
    [ref(null, 'ACME/WEB'), ref(null, 'acme/web'), true],
    [ref(null, 'acme/web'), ref(null, 'acme/web2'), false],
  ])('%o and %o: %s', (a, b, same) => {
    expect(sameRepository(a, b)).toBe(same);
    expect(sameRepository(b, a)).toBe(same);
  });
});
