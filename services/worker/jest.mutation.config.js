import preset from '@ephemera/toolchain/jest-preset';

// The unit tests of what `pnpm test:mutation` mutates (the reconciler's decisions, the rollout judgement): no
// database, no Redis, so Stryker can run them once per mutant.
export default {
  ...preset,
  testMatch: ['<rootDir>/test/reconciler/**/*.test.ts', '<rootDir>/test/rollout-judge.test.ts', '<rootDir>/test/rollout-status.test.ts'],
};
