// Which Express a jest project really runs: jest.config.js maps `express` to Express 4 in the `express4`
// project. These tests fail if that mapping stops reaching the tests or lib/ (a silent no-op would
// run the "Express 4" suites on Express 5 again).
import { brotliCompressSync } from 'node:zlib';
import express from 'express';
import request from 'supertest';
import { authOptions, closeClients, testApp, USERS } from './support/harness';

/** Set per project in jest.config.js (`globals`). */
declare const EXPECTED_EXPRESS_MAJOR: 4 | 5;

afterAll(closeClients);

test('the tests load the Express major their project names', () => {
  const { version } = require('express/package.json') as { version: string };
  expect(Number(version.split('.')[0])).toBe(EXPECTED_EXPRESS_MAJOR);
  // Express 5 dropped app.del and req.param; Express 4 still has them.
  const app = express() as unknown as { del?: unknown; request: { param?: unknown } };
  expect(typeof app.del === 'function' && typeof app.request.param === 'function').toBe(EXPECTED_EXPRESS_MAJOR === 4);
});

test("lib/'s router is built by that same Express (its layers are that copy's Layer)", () => {
  const { auth } = testApp();
  type Layer = { constructor: unknown; regexp?: unknown; matchers?: unknown };
  const libLayer = (auth.router as unknown as { stack: Layer[] }).stack[0] as Layer;
  const ownRouter = express.Router();
  ownRouter.get('/', (_req, res) => res.end());
  const ownLayer = (ownRouter as unknown as { stack: Layer[] }).stack[0] as Layer;
  expect(libLayer.constructor).toBe(ownLayer.constructor);
  // Express 4's own router layers match by a regexp; Express 5's (the `router` package) by matchers.
  expect('matchers' in libLayer).toBe(EXPECTED_EXPRESS_MAJOR === 5);
});

test('the built package (dist/, as the example app loads it by name) gets that same Express too', async () => {
  const built = require('express-refresh-tokens') as typeof import('../lib');
  const store = new built.MemoryStore();
  const builtAuth = built.createAuth(authOptions(store));
  const { auth } = testApp();
  const layerOf = (router: unknown) => (router as { stack: Array<{ constructor: unknown }> }).stack[0]?.constructor;
  // The Layer of a router this project's Express builds: defined, so an empty stack (undefined) cannot match.
  const ownRouter = express.Router();
  ownRouter.get('/', (_req, res) => res.end());
  const ownLayer = layerOf(ownRouter);
  expect(ownLayer).toEqual(expect.any(Function));
  expect(layerOf(builtAuth.router)).toBe(ownLayer);
  expect(layerOf(auth.router)).toBe(ownLayer);
  await builtAuth.close();
  await store.close();
});

test("lib/'s JSON body parser is that Express' body-parser: a brotli body is read on 5 and refused (415) on 4", async () => {
  const { app } = testApp();
  const body = brotliCompressSync(JSON.stringify({ username: 'alice', password: USERS.alice?.password }));
  const res = await request(app)
    .post('/auth/login')
    .set('X-Requested-With', 'fetch')
    .set('Content-Type', 'application/json')
    .set('Content-Encoding', 'br')
    .serialize((raw: unknown) => raw as string) // the Buffer as is: superagent would JSON-encode it under this Content-Type
    .send(body);
  // body-parser 2 (Express 5) decompresses br; body-parser 1 (Express 4) answers 415 unsupported encoding.
  expect(res.status).toBe(EXPECTED_EXPRESS_MAJOR === 5 ? 200 : 415);
});
