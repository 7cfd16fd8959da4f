// The packed tarball works from CommonJS, ESM and strict TypeScript consumers (skipLibCheck off), across Express, @types/node, TypeScript and ioredis majors.
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const root = resolve(__dirname, '..');
const fixtures = join(__dirname, 'fixtures', 'consumer');
let workDir: string;
let tarball: string;

jest.setTimeout(240_000);

function run(command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Installs packages into a project. `--prefer-offline` takes what the npm cache has, so a tag such as
 * `@latest` can resolve to an older release on a machine whose cache is stale: the checks below read
 * the versions actually installed.
 */
async function npmInstall(dir: string, packages: string[]): Promise<void> {
  await promisify(execFile)('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...packages], { cwd: dir });
}

/** The major version of an installed package, read from its package.json. */
function installedMajor(packageDir: string): number {
  return Number((JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { version: string }).version.split('.')[0]);
}

/** The consumer projects, each installed once: the tarball and @types/node (the newest) in each, plus these. */
const CONSUMERS = {
  // The oldest supported @types/node beside the newest, under an alias a `typeRoots` entry picks (NODE_TYPES).
  // ioredis 6 with the README's advice for it (its declarations import the untyped `redis-errors`).
  express5: ['express@5', '@types/express@5', '@types-node-20/node@npm:@types/node@20', 'ioredis@6', '@types/redis-errors'],
  express4: ['express@4', '@types/express@4', '@types-node-20/node@npm:@types/node@20', 'ioredis@5'],
  // ioredis 6 as a user first installs it, before following that advice.
  ioredis6: ['@types/express@5', 'ioredis@6'],
};
type ConsumerName = keyof typeof CONSUMERS;
const consumerDir = (name: ConsumerName): string => join(workDir, name);

/** Where the newest TypeScript, the one `npm install typescript` gives, is installed (once, beside the consumers). */
const latestTypeScript = (): string => join(workDir, 'typescript-latest', 'node_modules', 'typescript');

/** The TypeScript compilers a consumer is checked with: the repo's own 5.9, and the newest (its npm package ships a `tsc`). */
const TYPESCRIPTS = [
  { label: 'TypeScript 5.9', packageDir: () => join(root, 'node_modules', 'typescript'), majors: [5, 5] },
  { label: 'TypeScript latest (7+)', packageDir: latestTypeScript, majors: [7, Infinity] },
] as const;
type TypeScriptUnderTest = (typeof TYPESCRIPTS)[number];
const [, NEWEST_TYPESCRIPT] = TYPESCRIPTS;

/**
 * The @types/node a consumer is checked against: the oldest supported, picked by `typeRoots` (which the
 * `types` option and every `/// <reference types="node" />` resolve through), and the newest, where
 * `npm install @types/node` puts it.
 */
const NODE_TYPES = [
  { label: '@types/node 20', flags: ['--typeRoots', 'node_modules/@types-node-20,node_modules/@types'], majors: [20, 20] },
  { label: '@types/node latest (26+)', flags: [], majors: [26, Infinity] },
] as const;
type NodeTypesUnderTest = (typeof NODE_TYPES)[number];
const [, NEWEST_NODE_TYPES] = NODE_TYPES;

/** What a strict TypeScript consumer of a Node package compiles with: library declarations checked too. */
const serverFlags = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--skipLibCheck', 'false', '--types', 'node'];
/** ... and a page's TypeScript, for the browser client. */
const browserFlags = [...serverFlags, '--lib', 'ES2022,DOM'];

/** What tsc said about a program: its errors, and which @types/node it held. */
interface Compilation {
  /**
   * Every error, sorted: `file:line:TScode` in the files made to fail (named `broken*`), and with tsc's
   * message added anywhere else (a library's declarations included), so an unexpected one reads plainly.
   */
  errors: string[];
  /** The @types/node package the program held (exactly one, or this throws). */
  nodeTypesDir: string;
}

/** Type-checks files in a consumer with one TypeScript and one @types/node. */
function compile(dir: string, typescript: TypeScriptUnderTest, nodeTypes: NodeTypesUnderTest, flags: string[], files: string[]): Compilation {
  let output: string;
  try {
    output = run('node', [join(typescript.packageDir(), 'bin', 'tsc'), ...flags, ...nodeTypes.flags, '--listFiles', ...files], dir);
  } catch (error) {
    output = (error as { stdout?: string }).stdout ?? '';
    if (!output.includes('error TS')) throw error;
  }
  const errors: string[] = [];
  const nodeTypesDirs = new Set<string>();
  for (const line of output.split('\n')) {
    const diagnostic = /^(?:(\S+)\((\d+),\d+\): )?error (TS\d+): (.*)$/.exec(line);
    if (diagnostic) {
      const [, file = '(no file)', where, code, message] = diagnostic;
      errors.push(file.startsWith('broken') ? `${file}:${where}:${code}` : `${file}:${where ?? 0}:${code} ${message?.replaceAll(dir, '.')}`);
    }
    const nodeIndex = /^(.*\/node_modules\/@types[^/]*\/node)\/index\.d\.ts$/.exec(line);
    if (nodeIndex?.[1]) nodeTypesDirs.add(nodeIndex[1]);
  }
  if (nodeTypesDirs.size !== 1) throw new Error(`expected one @types/node in the program, found: ${[...nodeTypesDirs].join(', ') || 'none'}`);
  return { errors: errors.sort(), nodeTypesDir: [...nodeTypesDirs][0] as string };
}

/** Proves a compilation ran on the TypeScript and @types/node its test names, not on whatever the cache had. */
function expectVersions(compilation: Compilation, typescript: TypeScriptUnderTest, nodeTypes: NodeTypesUnderTest): void {
  const [tsMin, tsMax] = typescript.majors;
  expect(installedMajor(typescript.packageDir())).toBeGreaterThanOrEqual(tsMin);
  expect(installedMajor(typescript.packageDir())).toBeLessThanOrEqual(tsMax);
  const [nodeMin, nodeMax] = nodeTypes.majors;
  expect(installedMajor(compilation.nodeTypesDir)).toBeGreaterThanOrEqual(nodeMin);
  expect(installedMajor(compilation.nodeTypesDir)).toBeLessThanOrEqual(nodeMax);
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

/** The browser client used wrongly, one error per line that says so. */
const BROKEN_CLIENT = {
  'broken-client.mts': [
    "import { createAuthClient, type SessionState } from 'express-refresh-tokens/client';",
    'const auth = createAuthClient({ baseUrl: 1 }); // baseUrl is a string',
    'auth.onSessionChange((state: SessionState) => state.user); // only a signed-in state has a user',
    '',
  ].join('\n'),
};

/** A consumer project from the fixtures, with the tarball, the newest @types/node and the given packages installed from the registry. */
async function installConsumer(name: ConsumerName): Promise<void> {
  const dir = consumerDir(name);
  cpSync(fixtures, dir, { recursive: true });
  // The same source, checked once as an ES module and once as CommonJS.
  copyFileSync(join(dir, 'consumer.mts'), join(dir, 'consumer.cts'));
  for (const [file, source] of Object.entries({ ...BROKEN_SERVER, ...BROKEN_CLIENT })) writeFileSync(join(dir, file), source);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `consumer-${name}`, private: true }));
  await npmInstall(dir, [tarball, '@types/node@latest', ...CONSUMERS[name]]);
}

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'ert-consumer-'));
  // --ignore-scripts: pack the dist/ that `npm test` just built, without rebuilding it under other suites.
  run('npm', ['pack', '--ignore-scripts', '--pack-destination', workDir], root);
  tarball = join(workDir, readdirSync(workDir).find((name) => name.endsWith('.tgz')) as string);
  const typescriptDir = dirname(dirname(latestTypeScript()));
  mkdirSync(typescriptDir);
  writeFileSync(join(typescriptDir, 'package.json'), JSON.stringify({ name: 'typescript-latest', private: true }));
  await Promise.all([npmInstall(typescriptDir, ['typescript@latest']), ...Object.keys(CONSUMERS).map((name) => installConsumer(name as ConsumerName))]);
});

afterAll(() => rmSync(workDir, { recursive: true, force: true }));

test('the tarball holds dist/ and no sources, tests or fixtures', () => {
  const listing = run('tar', ['-tzf', tarball], workDir);
  expect(listing).toContain('package/dist/index.js');
  expect(listing).toContain('package/dist/index.d.ts');
  expect(listing).toContain('package/dist/browser/client/index.js');
  expect(listing).toContain('package/dist/browser/client/index.d.ts');
  expect(listing).toContain('package/dist/verifier/index.js');
  expect(listing).toContain('package/dist/verifier/index.d.ts');
  expect(listing).toContain('package/dist/browser/package.json');
  expect(listing).toContain('package/LICENSE');
  expect(listing).not.toMatch(/package\/(lib|test|example-app)\//);
});

test('installing the package pulls in nothing with an install script', () => {
  // Every package npm installed for the consumer (the tarball, its dependencies, express, ioredis, types).
  const lock = JSON.parse(readFileSync(join(consumerDir('express5'), 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { hasInstallScript?: boolean }>;
  };
  const names = Object.keys(lock.packages).filter((path) => path.startsWith('node_modules/'));
  expect(names).toContain('node_modules/express-refresh-tokens');
  expect(names).toContain('node_modules/express-rate-limit');
  expect(names.filter((path) => lock.packages[path]?.hasInstallScript)).toEqual([]);
});

describe.each(['express5', 'express4'] as const)('with %s', (consumer) => {
  test.each([
    ['CommonJS require', 'consumer.cjs', 'cjs'],
    ['ESM import', 'consumer.mjs', 'esm'],
  ])('%s: login, refresh, a malformed body and a protected request work', (_label, file, kind) => {
    const result = JSON.parse(run('node', [file], consumerDir(consumer))) as Record<string, unknown>;
    expect(result).toEqual({
      kind,
      login: 200,
      refresh: 200,
      badJson: [400, { error: 'invalid_request', message: 'The body is not valid JSON' }],
      userId: 'u1',
      anonymous: 401,
      anonymousType: 'application/json; charset=utf-8',
      exports: ['function', 'function'],
    });
  });

  test('the browser client is an ES module importable by name', () => {
    const imported = run(
      'node',
      [
        '--input-type=module',
        '-e',
        "const m = await import('express-refresh-tokens/client'); console.log(typeof m.createAuthClient, typeof m.AuthClientError)",
      ],
      consumerDir(consumer),
    );
    expect(imported.trim()).toBe('function function');
  });
});

/** Each Express major with the ioredis its consumer installed. */
const SERVER_CONSUMERS = [
  { consumer: 'express5', label: 'express5 + ioredis 6', ioredis: 6 },
  { consumer: 'express4', label: 'express4 + ioredis 5', ioredis: 5 },
] as const;

/**
 * Every pair of the three axes (Express major, @types/node, TypeScript) meets in at least one row,
 * in four compilations instead of eight: checking library declarations costs ~10 s of CPU a run.
 */
const SERVER_MATRIX = SERVER_CONSUMERS.flatMap((server, s) =>
  NODE_TYPES.map((nodeTypes, n) => {
    const typescript = TYPESCRIPTS[(s + n) % TYPESCRIPTS.length] as TypeScriptUnderTest;
    return { name: `${server.label} + ${nodeTypes.label} + ${typescript.label}`, server, nodeTypes, typescript };
  }),
);

test.each(SERVER_MATRIX)(
  '$name: strict TypeScript consumers (ESM and CommonJS; req.auth, auth.events, the JWKS, a RedisStore) type-check with skipLibCheck off, and wrong types fail',
  ({ server, nodeTypes, typescript }) => {
    const dir = consumerDir(server.consumer);
    expect(installedMajor(join(dir, 'node_modules', 'ioredis'))).toBe(server.ioredis);
    // consumer.mts/.cts: req.auth in a handler; auth-events.mts: every event's payload; jwks.mts: keys into createPublicKey;
    // redis-store.mts: a Redis and a Cluster client; verifier.mts: express-refresh-tokens/verifier. Their @ts-expect-error lines fail the check if unused.
    // The broken files, compiled in the same program, must fail with exactly these errors, or the check proves nothing.
    const good = ['consumer.mts', 'consumer.cts', 'auth-events.mts', 'jwks.mts', 'redis-store.mts', 'verifier.mts'];
    const compilation = compile(dir, typescript, nodeTypes, serverFlags, [...good, ...Object.keys(BROKEN_SERVER)]);
    expectVersions(compilation, typescript, nodeTypes);
    expect(compilation.errors).toEqual([
      'broken-auth.mts:5:TS2322', // string is not number
      'broken-auth.mts:6:TS2339', // Property 'nonexistent' does not exist on type 'AuthInfo'
      'broken-events.mts:3:TS2345', // no 'token_reused' event
      'broken-events.mts:4:TS2339', // Property 'nonexistent' does not exist on type 'SessionEvent'
      'broken-events.mts:5:TS2339', // Property 'ip' does not exist on session_revoked's payload
      'broken.mts:2:TS2322', // store: 1 is not a SessionStore
    ]);
  },
);

// Once per TypeScript, with the newest @types/node: the client depends on neither Express nor Node's types.
test.each(TYPESCRIPTS)("the browser client's types, for a page (lib DOM) + $label: right uses compile, wrong ones fail", (typescript) => {
  const compilation = compile(consumerDir('express5'), typescript, NEWEST_NODE_TYPES, browserFlags, ['browser-client.mts', ...Object.keys(BROKEN_CLIENT)]);
  expectVersions(compilation, typescript, NEWEST_NODE_TYPES);
  expect(compilation.errors).toEqual(['broken-client.mts:2:TS2322', 'broken-client.mts:3:TS2339']);
});

test('ioredis 6 with skipLibCheck off: our declarations never load it; its own need `npm install --save-dev @types/redis-errors`', async () => {
  const dir = consumerDir('ioredis6');
  const check = (file: string): string[] => compile(dir, NEWEST_TYPESCRIPT, NEWEST_NODE_TYPES, serverFlags, [file]).errors;
  expect(installedMajor(join(dir, 'node_modules', 'ioredis'))).toBe(6);
  // A project that does not import ioredis itself compiles with it installed: nothing of ours points at it.
  expect(check('consumer.mts')).toEqual([]);
  // Importing it fails inside ioredis' declarations, on the untyped `redis-errors` alone...
  const without = check('redis-store.mts');
  expect(without.length).toBeGreaterThan(0);
  for (const error of without) {
    expect(error).toMatch(/^node_modules\/ioredis\/built\/\S+\.d\.ts:\d+:TS7016 Could not find a declaration file for module 'redis-errors'\./);
  }
  // ... and the advice, as the README gives it, is all it takes.
  await npmInstall(dir, ['--save-dev', '@types/redis-errors']);
  expect(check('redis-store.mts')).toEqual([]);
});
