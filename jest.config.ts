import type { Config } from 'jest';

/**
 * `npm test`: unit and end-to-end tests on loopback, no outside server.
 * `npm run test:integration` (CONNMAN_INTEGRATION=1): tests against the real
 * servers of this machine (Redis on 6379), run by .ci/run.
 */
const integration = process.env.CONNMAN_INTEGRATION === '1';

const config: Config = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
    // The README's examples import the package by name, as users do.
    '^nestjs-connman$': '<rootDir>/lib/index.ts',
    '^nestjs-connman/(core|health|testing|prometheus|otel)$': '<rootDir>/lib/$1/index.ts',
  },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  roots: [integration ? '<rootDir>/test/integration' : '<rootDir>/test'],
  testMatch: ['**/*.spec.ts'],
  testPathIgnorePatterns: integration ? ['/node_modules/'] : ['/node_modules/', '/test/integration/'],
  testTimeout: 20_000,
  maxWorkers: integration ? 1 : 2,
};

export default config;
