import { fileURLToPath } from 'node:url';

// Jest runs the TypeScript sources as ES modules: the @octokit packages ship ESM only, so the tests must too
// (run with NODE_OPTIONS=--experimental-vm-modules, which every package's `test` script sets).
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  // Sources import './x.js' as Node's ESM resolution requires; Jest must find './x.ts'.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: { isolatedModules: true } }],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts', '<rootDir>/src/**/*.test.ts'],
  testTimeout: 30_000,
  reporters: ['default', fileURLToPath(new URL('./jest-summary-reporter.js', import.meta.url))],
};
