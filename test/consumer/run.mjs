// `npm run test:consumer`: packs the library and installs the tarball, outside the repo, into two
// fresh apps built from the templates in apps/: a Nest 12 ES module app and a Nest 11 CommonJS app,
// both with strict TypeScript (exactOptionalPropertyTypes, skipLibCheck off). In each app:
//   1. compile the app (src/, shared by both apps), the README's examples (examples/readme/*.ts,
//      copied as they are now) and an import of every entry point, against the published .d.ts;
//   2. typecheck that import under moduleResolution nodenext, bundler and node10 (between the apps);
//   3. require() every entry point from a .cjs file, import() each from a .mjs file;
//   4. boot the app against a loopback TCP server started here, check /health over HTTP, ask it to
//      close, and wait for the process to exit by itself (it checks that no socket or timer is left);
//   5. (CommonJS app) run one Jest test with the app's own Jest + ts-jest setup and the recipe of
//      docs/packaging-notes.md; also run it without the recipe, and report what happens.
// The entry points come from package.json's `exports` (scripts/package-entries.mjs).
// CONSUMER_KEEP=1 keeps the temporary directories; CONSUMER_APPS=nest11-cjs runs one app.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXPECTED_EXPORTS, entryPoints, noticePending, readPackageJson, root } from '../../scripts/package-entries.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const keep = process.env.CONSUMER_KEEP === '1';
const onlyApps = process.env.CONSUMER_APPS?.split(',');

/** The apps: a template directory in apps/, and what differs between them. */
const APPS = [
  { name: 'nest12-esm', esm: true, jest: false, resolution: 'nodenext', otherResolutions: ['bundler'] },
  { name: 'nest11-cjs', esm: false, jest: true, resolution: 'node10', otherResolutions: ['nodenext'] },
].filter((app) => !onlyApps || onlyApps.includes(app.name));

/**
 * Diagnostics that mean "this file is an ES module by nature" (top-level await, import.meta):
 * a README example with only these may be compiled in the ES module app only.
 */
const ESM_ONLY_CODES = new Map([
  [1378, 'top-level await'],
  [1432, 'top-level for await'],
  [2854, 'top-level await using'],
  [1343, 'import.meta'],
  [1470, 'import.meta'],
]);

/**
 * README example errors that come from lib/'s current types, left for the integrator to fix (see
 * docs/packaging-notes.md): each is reported at every run, never hidden; one that no longer
 * occurs is reported as stale, to be removed from here. Any other error fails the run.
 */
const KNOWN_EXAMPLE_ERRORS = [];

/** Where an app gets the README's examples and the generated import of every entry point. */
const EXAMPLES = 'src/readme-examples';
const ENTRIES_FILE = 'src/entry-points.ts';

/**
 * The module resolutions every entry point's types must resolve under: each app compiles with
 * its own (nodenext in the ES module app, node10, which module commonjs implies, in the CommonJS
 * app), and checks the import of every entry point under the other one listed in APPS. With
 * skipLibCheck off, each run checks every declaration file (~10 s), hence not all three per app.
 */
const RESOLUTIONS = {
  nodenext: { module: 'nodenext', moduleResolution: 'nodenext' },
  bundler: { module: 'esnext', moduleResolution: 'bundler' },
  node10: { module: 'commonjs', moduleResolution: 'node10' },
};

const started = performance.now();
const seconds = (since) => `${((performance.now() - since) / 1000).toFixed(1)} s`;
const pkg = readPackageJson();
const entries = entryPoints(pkg);
noticePending(entries, 'the consumer tests');
const entryList = entries.map(({ subpath, specifier, pending }) => ({
  specifier,
  names: EXPECTED_EXPORTS[subpath] ?? [],
  pending,
}));

/**
 * Runs a command; resolves with { code, output (stdout and stderr), stdout }. With `check` (the default), a non-zero exit or
 * the deadline rejects, with the output in the message.
 */
function run(command, args, { cwd, env, timeoutMillis = 240_000, check = true } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => (output += chunk));
    const deadline = setTimeout(() => {
      output += `\n(killed: still running after ${timeoutMillis} ms)`;
      child.kill('SIGKILL');
    }, timeoutMillis);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(deadline);
      if (!check || (code === 0 && !signal)) resolve({ code: signal ?? code, output, stdout });
      else reject(new Error(`${command} ${args.join(' ')} exited with ${signal ?? code} in ${cwd}\n${output}`));
    });
  });
}

const npm = (args, options) => run('npm', args, options);
const tsc = (args, options) => run(process.execPath, ['node_modules/typescript/bin/tsc', ...args], options);

/** Bare package names a TypeScript file imports (type-only imports included). */
function importedPackages(file) {
  const names = new Set();
  for (const [, spec] of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'([^'.][^']*)'/g)) {
    if (spec.startsWith('node:') || builtinModules.includes(spec)) continue;
    names.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
  }
  return names;
}

/** Parses `tsc --pretty false` output into { file, code, text } records. */
function diagnostics(output) {
  return [...output.matchAll(/^(.+?)\(\d+,\d+\): error TS(\d+): (.*)$/gm)].map(([, file, code, text]) => ({
    file,
    code: Number(code),
    text,
  }));
}

/** A loopback server: greets each connection with "hello N\n"; drops it when it reads "bye". */
async function startUpstream() {
  const sockets = new Set();
  let greeted = 0;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.write(`hello ${++greeted}\n`);
    socket.on('data', (chunk) => {
      if (String(chunk).includes('bye')) socket.destroy();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: server.address().port,
    async stop() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

function http(method, port, path) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode, body: body ? JSON.parse(body) : undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Step 5: boot, health over HTTP, close, exit by itself with nothing left. */
async function bootAndClose(dir, log) {
  const upstream = await startUpstream();
  try {
    const child = spawn(process.execPath, ['dist/main.js'], {
      cwd: dir,
      env: { ...process.env, UPSTREAM_PORT: String(upstream.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const messages = [];
    const checks = [];
    child.stderr.on('data', (chunk) => (output += chunk));
    let pending = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
      pending += chunk;
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        const match = /^@@consumer (.*)$/.exec(line);
        if (!match) continue;
        const message = JSON.parse(match[1]);
        messages.push(message);
        if (message.type === 'ready') checks.push(checkApp(message));
      }
    });
    async function checkApp({ app, port }) {
      const healthy = await http('GET', port, '/health');
      if (healthy.status !== 200 || healthy.body?.info?.[app]?.status !== 'up' || healthy.body.info[app].connected < 1)
        throw new Error(`${app}: GET /health answered ${healthy.status} ${JSON.stringify(healthy.body)}`);
      const missing = await http('GET', port, '/health/missing');
      if (missing.status !== 503 || missing.body?.error?.missing?.status !== 'down')
        throw new Error(`${app}: GET /health/missing answered ${missing.status} ${JSON.stringify(missing.body)}`);
      const shutdown = await http('POST', port, '/shutdown');
      if (shutdown.status !== 202) throw new Error(`${app}: POST /shutdown answered ${shutdown.status}`);
      log(`  ${app}: /health up (${healthy.body.info[app].connected} connected), unknown pool down (503), closing`);
    }
    const deadlineMillis = 30_000;
    const deadline = setTimeout(() => child.kill('SIGKILL'), deadlineMillis);
    const [code, signal] = await once(child, 'close');
    clearTimeout(deadline);
    const results = await Promise.allSettled(checks);
    const failed = results.filter((r) => r.status === 'rejected').map((r) => r.reason.message);
    const resources = messages.find((m) => m.type === 'resources')?.resources;
    const closed = messages.filter((m) => m.type === 'closed').map((m) => m.app);
    if (signal === 'SIGKILL')
      failed.push(`the app did not exit by itself within ${deadlineMillis} ms (something is left open)`);
    else if (code !== 0) failed.push(`the app exited with ${signal ?? code}`);
    if (closed.length !== 2) failed.push(`closed: ${closed.join(', ') || 'none'} (expected alpha and beta)`);
    if (failed.length > 0) throw new Error(`${failed.join('\n')}\n--- app output ---\n${output}`);
    log(
      `  apps closed (${closed.join(', ')}); process exited by itself; active resources: ${JSON.stringify(resources)}`,
    );
  } finally {
    await upstream.stop();
  }
}

/** Sorts a compile's diagnostics: README examples (ES module only, known, failing) and the rest. */
function classify(app, output, summary, log) {
  const failures = [];
  const found = diagnostics(output);
  for (const known of KNOWN_EXAMPLE_ERRORS) {
    const matching = found.filter(
      (d) => d.file === `${EXAMPLES}/${known.file}` && d.code === known.code && d.text.includes(known.includes),
    );
    if (matching.length === 0) {
      log(`  notice: known error no longer occurs (${known.file} TS${known.code}): remove it from run.mjs`);
      continue;
    }
    for (const d of matching) found.splice(found.indexOf(d), 1);
    summary.knownErrors.push(`examples/readme/${known.file} TS${known.code}: ${known.why}`);
    log(`  KNOWN (lib/ to fix): examples/readme/${known.file} TS${known.code}: ${known.why}`);
  }
  const byFile = new Map();
  for (const d of found) byFile.set(d.file, [...(byFile.get(d.file) ?? []), d]);
  for (const [file, list] of byFile) {
    const example = file.startsWith(`${EXAMPLES}/`);
    if (example && !app.esm && list.every((d) => ESM_ONLY_CODES.has(d.code))) {
      const why = [...new Set(list.map((d) => ESM_ONLY_CODES.get(d.code)))].join(', ');
      const name = `examples/readme/${file.slice(EXAMPLES.length + 1)}`;
      summary.esmOnlyExamples.push(`${name} (${why})`);
      log(`  ${name}: an ES module by nature (${why}); compiled in the ES module app only`);
    } else failures.push(...list.map((d) => `${d.file}: TS${d.code} ${d.text}`));
  }
  return failures;
}

/** One app from its template: install, compile, check, boot. Returns a summary for the report. */
async function testApp(app, tarball) {
  const log = (line) => console.log(`[${app.name}] ${line.trimStart()}`);
  const dir = mkdtempSync(join(tmpdir(), `connman-consumer-${app.name}-`));
  const summary = { app: app.name, steps: [], esmOnlyExamples: [], knownErrors: [] };
  const step = async (title, fn) => {
    const since = performance.now();
    await fn();
    summary.steps.push(`${title}: ${seconds(since)}`);
    log(`ok ${title} (${seconds(since)})`);
  };
  try {
    // The app: the shared sources, its template, and the README's examples as they are now.
    cpSync(join(here, 'src'), join(dir, 'src'), { recursive: true });
    cpSync(join(here, 'apps', app.name), dir, { recursive: true });
    cpSync(join(here, 'entries'), dir, { recursive: true });
    // Jest tests are kept as jest/*.jest.ts here (the repo's own Jest would run *.spec.ts files).
    if (app.jest) {
      for (const file of readdirSync(join(dir, 'jest')))
        renameSync(join(dir, 'jest', file), join(dir, 'src', file.replace(/\.jest\.ts$/, '.spec.ts')));
      rmSync(join(dir, 'jest'), { recursive: true });
    }
    const examplesDir = join(root, 'examples', 'readme');
    const examples = readdirSync(examplesDir).filter((f) => f.endsWith('.ts'));
    mkdirSync(join(dir, EXAMPLES));
    for (const example of examples) cpSync(join(examplesDir, example), join(dir, EXAMPLES, example));

    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const installed = { ...manifest.dependencies, ...manifest.devDependencies };
    manifest.dependencies[pkg.name] = `file:${tarball}`;
    manifest.devDependencies.typescript = pkg.devDependencies.typescript;
    // Optional peers (prom-client, @opentelemetry/api, ...) so that every entry point can load.
    for (const [peer, range] of Object.entries(pkg.peerDependencies ?? {}))
      if (!(peer in installed) && !peer.startsWith('@nestjs/')) manifest.dependencies[peer] = range;
    writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
    for (const example of examples)
      for (const name of importedPackages(join(examplesDir, example)))
        if (!(name in manifest.dependencies) && !(name in manifest.devDependencies))
          throw new Error(
            `examples/readme/${example} imports '${name}', which the ${app.name} app does not install: ` +
              `add it to test/consumer/apps/${app.name}/package.json`,
          );

    // An import of every entry point (compiled with the app), and a tsconfig per other resolution.
    const live = entries.filter((e) => !e.pending);
    writeFileSync(
      join(dir, ENTRIES_FILE),
      '// Generated by test/consumer/run.mjs from package.json exports.\n' +
        live.map((e, i) => `import * as entry${i} from '${e.specifier}';\n`).join('') +
        'export const loaded: unknown[] = [\n' +
        live
          .flatMap((e, i) => [`entry${i}`, ...(EXPECTED_EXPORTS[e.subpath] ?? []).map((n) => `entry${i}.${n}`)])
          .map((line) => `  ${line},\n`)
          .join('') +
        '];\n',
    );
    for (const mode of app.otherResolutions)
      writeFileSync(
        join(dir, `tsconfig.${mode}.json`),
        JSON.stringify({
          extends: './tsconfig.json',
          compilerOptions: { ...RESOLUTIONS[mode], noEmit: true },
          include: [ENTRIES_FILE],
          exclude: [],
        }),
      );

    await step('npm install (tarball + template dependencies)', () =>
      npm(['install', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: dir }),
    );
    await step(
      `compile the app, the README examples (${examples.join(', ')}) and an import of each entry point ` +
        `(moduleResolution ${app.resolution})`,
      async () => {
        const { code, output } = await tsc(['-p', 'tsconfig.json', '--pretty', 'false'], { cwd: dir, check: false });
        const failures = classify(app, output, summary, log);
        if (failures.length > 0 || (code !== 0 && diagnostics(output).length === 0))
          throw new Error(`${app.name} does not compile:\n${failures.join('\n') || output}`);
      },
    );
    for (const mode of app.otherResolutions)
      await step(`types of ${live.length} entry points under moduleResolution ${mode}`, () =>
        tsc(['-p', `tsconfig.${mode}.json`, '--pretty', 'false'], { cwd: dir }),
      );
    const env = { CONSUMER_ENTRIES: JSON.stringify(entryList) };
    await step('require() every entry point from a .cjs file', async () => {
      const { output } = await run(process.execPath, ['load.cjs'], { cwd: dir, env });
      if (/ExperimentalWarning/.test(output)) log(`  note: ${output.match(/.*ExperimentalWarning.*/)[0]}`);
    });
    await step('import() every entry point from a .mjs file', () =>
      run(process.execPath, ['load.mjs'], { cwd: dir, env }),
    );
    await step('boot against a loopback server, /health, app.close(), exit with nothing left', () =>
      bootAndClose(dir, log),
    );
    if (app.jest) {
      await step("Jest: the app's ts-jest CommonJS setup with the transformIgnorePatterns recipe", () =>
        npm(['test', '--', '--ci'], { cwd: dir }),
      );
      await step(
        'Jest with the recipe and a tsconfig without esModuleInterop (what Nest <= 10 generated)',
        async () => {
          // Every entry point loaded through ts-jest's CommonJS output with no interop helpers: a default
          // import of a Node built-in inside the package would read `.default` of undefined here.
          writeFileSync(
            join(dir, 'tsconfig.nointerop.json'),
            JSON.stringify({ extends: './tsconfig.json', compilerOptions: { esModuleInterop: false } }),
          );
          writeFileSync(
            join(dir, 'src', 'nointerop.check.ts'),
            [
              "import * as root from 'nestjs-connman';",
              "import * as core from 'nestjs-connman/core';",
              "import * as health from 'nestjs-connman/health';",
              "import * as testing from 'nestjs-connman/testing';",
              "import * as prometheus from 'nestjs-connman/prometheus';",
              "import * as otel from 'nestjs-connman/otel';",
              '',
              "test('every entry point loads without esModuleInterop', () => {",
              "  expect(typeof root.ConnmanModule.forRoot).toBe('function');",
              "  expect(typeof core.ConnectionPool).toBe('function');",
              "  expect(typeof health.ConnmanHealthIndicator).toBe('function');",
              "  expect(typeof testing.FaultProxy.start).toBe('function');",
              "  expect(typeof prometheus.instrumentPrometheus).toBe('function');",
              "  expect(typeof otel.instrumentOpenTelemetry).toBe('function');",
              "  expect(typeof root.CHANNELS.connect).toBe('string');",
              '});',
              '',
            ].join('\n'),
          );
          const { transform: _transform, testRegex: _regex, ...rest } = manifest.jest;
          writeFileSync(
            join(dir, 'jest.nointerop.json'),
            JSON.stringify({
              ...rest,
              testRegex: 'nointerop\\.check\\.ts$',
              transform: { '^.+\\.(t|j)s$': ['ts-jest', { tsconfig: 'tsconfig.nointerop.json' }] },
            }),
          );
          await run(process.execPath, ['node_modules/jest/bin/jest.js', '--ci', '--config', 'jest.nointerop.json'], {
            cwd: dir,
          });
        },
      );
      await step('Jest without the recipe (informational)', async () => {
        const { transformIgnorePatterns: _recipe, ...nestDefault } = manifest.jest;
        writeFileSync(join(dir, 'jest.default.json'), JSON.stringify(nestDefault));
        const { code, output } = await run(
          process.execPath,
          ['node_modules/jest/bin/jest.js', '--ci', '--config', 'jest.default.json'],
          { cwd: dir, check: false },
        );
        summary.jestWithoutRecipe =
          code === 0
            ? 'passes: this Node/Jest loads the package without the recipe'
            : /Must use import to load ES Module|ERR_REQUIRE_ESM/.test(output)
              ? 'fails as documented: "Must use import to load ES Module" (ERR_REQUIRE_ESM)'
              : `fails differently:\n${output}`;
        log(`  without transformIgnorePatterns, Jest ${summary.jestWithoutRecipe}`);
      });
    }
    return summary;
  } catch (error) {
    error.message = `[${app.name}] ${error.message}\n(app directory: ${dir}${keep ? '' : ', removed; CONSUMER_KEEP=1 keeps it'})`;
    throw error;
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

const work = mkdtempSync(join(tmpdir(), 'connman-consumer-pack-'));
try {
  const packed = performance.now();
  const { stdout } = await npm(['pack', '--json', '--pack-destination', work], { cwd: root });
  const [{ filename }] = JSON.parse(stdout.slice(stdout.search(/^\[/m))); // after prepack's output
  const tarball = join(work, filename);
  console.log(
    `packed ${filename} (build included, ${seconds(packed)}); ${entries.length} entry points: ${entries.map((e) => e.specifier).join(', ')}`,
  );
  const summaries = await Promise.all(APPS.map((app) => testApp(app, tarball)));
  console.log('\nconsumer tests passed:');
  for (const s of summaries) {
    console.log(`  ${s.app}`);
    for (const line of s.steps) console.log(`    ${line}`);
    if (s.esmOnlyExamples.length > 0)
      console.log(`    compiled in the ES module app only: ${s.esmOnlyExamples.join(', ')}`);
    for (const known of s.knownErrors) console.log(`    KNOWN example error, lib/ to fix: ${known}`);
    if (s.jestWithoutRecipe) console.log(`    Jest without the recipe ${s.jestWithoutRecipe}`);
  }
  console.log(`total ${seconds(started)}`);
} catch (error) {
  console.error(`\nconsumer tests FAILED\n${error.stack ?? error}`);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
