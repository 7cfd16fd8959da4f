// The packed tarball works from CommonJS, ESM and strict TypeScript consumers (req.auth, auth.events and the browser client typed), with Express 5 and Express 4.
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..');
const fixtures = join(__dirname, 'fixtures', 'consumer');
let workDir: string;
let tarball: string;
const consumers: Record<string, string> = {};

jest.setTimeout(240_000);

function run(command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
/** What a strict TypeScript consumer of a Node package compiles with. */
const serverFlags = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--skipLibCheck', '--types', 'node'];
/** ... and a page's TypeScript, for the browser client. */
const browserFlags = [...serverFlags, '--lib', 'ES2022,DOM'];

/** Type-checks files in a consumer; on failure, throws with tsc's diagnostics (tsc writes them to stdout). */
function typeCheck(dir: string, flags: string[], files: string[]): void {
  try {
    run('node', [tsc, ...flags, ...files], dir);
  } catch (error) {
    throw new Error(`tsc failed:\n${(error as { stdout?: string }).stdout ?? String(error)}`);
  }
}

/**
 * Writes files that must not compile and returns tsc's errors as `file:line:TScode`, sorted: the
 * exact errors, so a file failing for another reason (a typo, a missing export) can't pass for a proof.
 */
function compileErrors(dir: string, flags: string[], files: Record<string, string>): string[] {
  for (const [name, source] of Object.entries(files)) writeFileSync(join(dir, name), source);
  try {
    run('node', [tsc, ...flags, ...Object.keys(files)], dir);
  } catch (error) {
    const output = (error as { stdout?: string }).stdout ?? '';
    return [...output.matchAll(/^(\S+)\((\d+),\d+\): error (TS\d+):/gm)].map(([, file, line, code]) => `${file}:${line}:${code}`).sort();
  }
  throw new Error(`${Object.keys(files).join(', ')} compiled, but must not`);
}

const createAuthCall =
  "createAuth({ store: new MemoryStore(), accessToken: { secret: 'x'.repeat(32) }, refreshToken: { secret: 'y'.repeat(32) }, authenticate: () => null })";

/** Consumers with wrong types, one error per line that says so. */
const BROKEN_SERVER = {
  'broken.mts': "import { createAuth } from 'express-refresh-tokens';\ncreateAuth({ store: 1 });\n",
  'broken-auth.mts': [
    "import express from 'express';",
    "import { createAuth, MemoryStore } from 'express-refresh-tokens';",
    `const auth = ${createAuthCall};`,
    "express().get('/me', auth.requireAuth(), (req, res) => {",
    '  const userId: number | undefined = req.auth?.userId; // a string',
    '  res.json({ userId, role: req.auth?.nonexistent }); // no such property',
    '});',
    '',
  ].join('\n'),
  'broken-events.mts': [
    "import { createAuth, MemoryStore } from 'express-refresh-tokens';",
    `const auth = ${createAuthCall};`,
    "auth.events.on('token_reused', () => undefined); // no such event",
    "auth.events.on('reuse_detected', (event) => event.nonexistent); // no such property on SessionEvent",
    "auth.events.on('session_revoked', (event) => event.ip); // session_revoked carries no ip",
    '',
  ].join('\n'),
};

/** A consumer project with the tarball and the given Express installed from the registry. */
function installConsumer(express: 'express@5' | 'express@4', types: string): string {
  const dir = join(workDir, express.replace('@', '-'));
  cpSync(fixtures, dir, { recursive: true });
  // The same source, checked once as an ES module and once as CommonJS.
  copyFileSync(join(dir, 'consumer.mts'), join(dir, 'consumer.cts'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, express, types, '@types/node@20'], dir);
  return dir;
}

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'ert-consumer-'));
  // --ignore-scripts: pack the dist/ that `npm test` just built, without rebuilding it under other suites.
  run('npm', ['pack', '--ignore-scripts', '--pack-destination', workDir], root);
  tarball = join(workDir, readdirSync(workDir).find((name) => name.endsWith('.tgz')) as string);
  consumers.express5 = installConsumer('express@5', '@types/express@5');
  consumers.express4 = installConsumer('express@4', '@types/express@4');
});

afterAll(() => rmSync(workDir, { recursive: true, force: true }));

test('the tarball holds dist/ and no sources, tests or fixtures', () => {
  const listing = run('tar', ['-tzf', tarball], workDir);
  expect(listing).toContain('package/dist/index.js');
  expect(listing).toContain('package/dist/index.d.ts');
  expect(listing).toContain('package/dist/browser/client/index.js');
  expect(listing).toContain('package/dist/browser/client/index.d.ts');
  expect(listing).toContain('package/dist/browser/package.json');
  expect(listing).toContain('package/LICENSE');
  expect(listing).not.toMatch(/package\/(lib|test|example-app)\//);
});

test('installing the package pulls in nothing with an install script', () => {
  // Every package npm installed for the consumer (the tarball, its dependencies, express, types).
  const lock = JSON.parse(readFileSync(join(consumers.express5 as string, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { hasInstallScript?: boolean }>;
  };
  const names = Object.keys(lock.packages).filter((path) => path.startsWith('node_modules/'));
  expect(names).toContain('node_modules/express-refresh-tokens');
  expect(names).toContain('node_modules/express-rate-limit');
  expect(names.filter((path) => lock.packages[path]?.hasInstallScript)).toEqual([]);
});

describe.each(['express5', 'express4'])('with %s', (consumer) => {
  test.each([
    ['CommonJS require', 'consumer.cjs', 'cjs'],
    ['ESM import', 'consumer.mjs', 'esm'],
  ])('%s: login, refresh, a malformed body and a protected request work', (_label, file, kind) => {
    const result = JSON.parse(run('node', [file], consumers[consumer] as string)) as Record<string, unknown>;
    expect(result).toEqual({
      kind,
      login: 200,
      refresh: 200,
      badJson: [400, { error: 'invalid_request' }],
      userId: 'u1',
      anonymous: 401,
      anonymousType: 'application/json; charset=utf-8',
      exports: ['function', 'function'],
    });
  });

  test('TypeScript consumers (strict, nodenext; ESM and CommonJS) type-check, with req.auth and auth.events typed', () => {
    const dir = consumers[consumer] as string;
    // consumer.mts/.cts: req.auth in a handler; auth-events.mts: every event's payload (with @ts-expect-error lines).
    typeCheck(dir, serverFlags, ['consumer.mts', 'consumer.cts', 'auth-events.mts']);
    // The same check must fail when the types are wrong, or it proves nothing: exactly these errors.
    expect(compileErrors(dir, serverFlags, BROKEN_SERVER)).toEqual([
      'broken-auth.mts:5:TS2322', // string is not number
      'broken-auth.mts:6:TS2339', // Property 'nonexistent' does not exist on type 'AuthInfo'
      'broken-events.mts:3:TS2345', // no 'token_reused' event: its listener can't be typed (never)
      'broken-events.mts:4:TS2339', // Property 'nonexistent' does not exist on type 'SessionEvent'
      'broken-events.mts:5:TS2339', // Property 'ip' does not exist on session_revoked's payload
      'broken.mts:2:TS2322', // store: 1 is not a SessionStore
    ]);
  });

  test('the browser client: an ES module importable by name, typed for a page (lib DOM)', () => {
    const dir = consumers[consumer] as string;
    const imported = run(
      'node',
      [
        '--input-type=module',
        '-e',
        "const m = await import('express-refresh-tokens/client'); console.log(typeof m.createAuthClient, typeof m.AuthClientError)",
      ],
      dir,
    );
    expect(imported.trim()).toBe('function function');
    typeCheck(dir, browserFlags, ['browser-client.mts']);
  });
});

// Once, not per Express: the client does not depend on it.
test("the browser client's types refuse wrong uses (the check above is not vacuous)", () => {
  const errors = compileErrors(consumers.express5 as string, browserFlags, {
    'broken-client.mts': [
      "import { createAuthClient, type SessionState } from 'express-refresh-tokens/client';",
      'const auth = createAuthClient({ baseUrl: 1 }); // baseUrl is a string',
      'auth.onSessionChange((state: SessionState) => state.user); // only a signed-in state has a user',
      '',
    ].join('\n'),
  });
  expect(errors).toEqual(['broken-client.mts:2:TS2322', 'broken-client.mts:3:TS2339']);
});
