// Jest configuration: TypeScript tests via ts-jest, one private redis-server for the whole run.
// Two projects: every suite on Express 5 (the devDependency `express`), and the HTTP-level suites
// again on Express 4 (the devDependency `express4`, i.e. npm:express@^4), so both majors are tested.

/** The HTTP-level suites that also run on Express 4: requests through the router, requireAuth, CSRF and cookies. */
const EXPRESS4_SUITES = [
  'routes',
  'rotation',
  'require-auth',
  'csrf-and-cookies',
  // req.secure and req.hostname (trust proxy, IPv6 hosts) as each Express major reads them.
  'insecure-cookie-warning',
  'attack-battery',
  'rate-limit',
  // Throttling through the router: X-Forwarded-For and trust proxy as each Express major reads them.
  'login-throttling',
  'refresh-throttling',
  'trust-proxy-warning',
  // What authenticate may return and throw, answered by the router.
  'authenticate',
  // cookie-parser next to the router (its own Express 4 cases build only the app on Express 4; here lib/ is too).
  'cookie-parser',
  // The example app on the built dist/, as a user on Express 4 runs it (under a second).
  'example-app',
  // Asserts which Express each project really loaded (in the tests and in lib/), so the mapping below can't be a no-op.
  'express-version',
  // requireAuth's cache of verified tokens, answering as for a never-seen token on either major.
  'verified-token-cache',
  // Listeners isolated from the answers of the router and requireAuth.
  'events',
  // Sessions' device and network labels over HTTP: X-Forwarded-For and trust proxy as each Express major reads them.
  'session-labels',
  // JwksClient against createAuth's own JWKS route: conditional requests answered by each Express major's req.fresh.
  'jwks-client',
  // What an error tells: configuration errors, and the 503s the router answers.
  'error-messages',
  // Durations through createAuth, and an access-token ttl in milliseconds refused before any login.
  'duration',
];

/** Options both projects share. */
const shared = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
};

// The example app and packaging tests load the built package by name, as a user would.
const builtPackage = { '^express-refresh-tokens$': '<rootDir>/dist/index.js' };

/** @type {import('jest').Config} */
module.exports = {
  // Declared once here (not per project), so one redis-server serves both projects.
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  reporters: ['default', '<rootDir>/test/support/project-summary-reporter.js', '<rootDir>/test/support/summary-reporter.js'],
  testTimeout: 20000,
  // Two workers on a 2-core machine: most suites spend their time waiting (a stalled Redis, Chromium, child
  // processes), so two side by side finish in about half the time of one (measured 193 s against 365 s).
  maxWorkers: 2,
  projects: [
    {
      ...shared,
      displayName: { name: 'express5', color: 'blue' },
      testMatch: ['**/*.test.ts'],
      moduleNameMapper: builtPackage,
      globals: { EXPECTED_EXPRESS_MAJOR: 5 },
    },
    {
      ...shared,
      displayName: { name: 'express4', color: 'magenta' },
      testMatch: EXPRESS4_SUITES.map((name) => `<rootDir>/test/${name}.test.ts`),
      // Every `require('express')` (tests, harness, and lib/ as ts-jest compiles it) loads Express 4.
      moduleNameMapper: {
        ...builtPackage,
        '^express$': '<rootDir>/node_modules/express4',
        '^express/(.*)$': '<rootDir>/node_modules/express4/$1',
      },
      globals: { EXPECTED_EXPRESS_MAJOR: 4 },
    },
  ],
};
