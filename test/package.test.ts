// The packed tarball works from CommonJS, ESM and TypeScript consumers, with Express 5 and Express 4.
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

  test('TypeScript consumers (ESM and CommonJS) type-check, with req.auth typed', () => {
    const dir = consumers[consumer] as string;
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const flags = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--skipLibCheck', '--types', 'node'];
    expect(() => run('node', [tsc, ...flags, 'consumer.mts', 'consumer.cts'], dir)).not.toThrow();
    // The same check must fail when the types are wrong, or it proves nothing.
    writeFileSync(join(dir, 'broken.mts'), "import { createAuth } from 'express-refresh-tokens';\ncreateAuth({ store: 1 });\n");
    expect(() => run('node', [tsc, ...flags, 'broken.mts'], dir)).toThrow();
  });

  test('the browser client: an ES module importable by name, typed for a page (lib DOM)', () => {
    const dir = consumers[consumer] as string;
    const imported = run('node', ['--input-type=module', '-e', "const m = await import('express-refresh-tokens/client'); console.log(typeof m.createAuthClient, typeof m.AuthClientError)"], dir);
    expect(imported.trim()).toBe('function function');
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const flags = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--skipLibCheck', '--types', 'node', '--lib', 'ES2022,DOM'];
    expect(() => run('node', [tsc, ...flags, 'browser-client.mts'], dir)).not.toThrow();
  });
});
