// A throwaway PostgreSQL server for integration tests (the node twin of
// tests/unit/store/pg_fixture.h): initdb in a temp dir, pg_ctl start on a free loopback port, a
// `stratus_test` database. A reaper shell stops the server and deletes its directory when
// stop() is called or when this process ends, however it ends.
//
//   import { postgresMissing, startPostgres } from './lib/postgres.mjs';
//   test('ledger on postgres', { skip: postgresMissing() }, async () => {
//     const pg = await startPostgres();
//     ... `store.url: ${pg.url}` ... await pg.query('SELECT count(*) FROM ledger') ...
//     await pg.stop();
//   });
//
// Binaries: $STRATUS_PG_BIN, else the newest /usr/lib/postgresql/*/bin (Debian's `postgresql`).
// As root, initdb and pg_ctl run as the `postgres` user (PostgreSQL refuses root).
import { execFile, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

function findBin() {
  const env = process.env.STRATUS_PG_BIN;
  if (env) return existsSync(join(env, 'pg_ctl')) ? env : null;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl')) && existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => parseFloat(b) - parseFloat(a));
  return versions.length ? join(root, versions[0], 'bin') : null;
}

// Why PostgreSQL tests cannot run here, or false: pass it as node:test's `skip` option.
export function postgresMissing() {
  return findBin() ? false : 'PostgreSQL binaries not found (set STRATUS_PG_BIN or install Debian\'s postgresql)';
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function postgresUser() {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('running as root needs a `postgres` user to own the server directory');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

// Starts a server; resolves to { url, port, dir, query(sql), pause(), resume(), stop() }.
// url: postgres://stratus@127.0.0.1:PORT/stratus_test (trust auth, no password).
// query(sql): psql's unaligned output (-At), e.g. '42' for SELECT count(*).
// pause()/resume(): stop the server (fast: clients are cut off) and start it again on the same
// port and data, for "the store went down" tests.
export async function startPostgres({ database = 'stratus_test' } = {}) {
  const bin = findBin();
  if (!bin) throw new Error(postgresMissing());
  const root = process.getuid?.() === 0;
  const dir = mkdtempSync('/tmp/stratus-pg-');
  if (root) {
    const { uid, gid } = postgresUser();
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  // [file, args] for a server tool, as the postgres user when we are root.
  const owner = (tool, args) => (root ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args]);
  const pgCtl = (args) => run(...owner('pg_ctl', ['-D', data, ...args]));

  const stopCmd = [...owner('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).flat()].join(' ');
  const reaper = spawn('setsid', ['-w', 'sh', '-c', `read _; ${stopCmd} >/dev/null 2>&1; rm -rf ${dir}`], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  const reaped = new Promise((resolve) => reaper.on('exit', resolve));
  reaper.unref();
  reaper.stdin.unref();
  const stop = async () => {
    reaper.ref(); // wait for the reaper's work, not just for the pipe to close
    reaper.stdin.end();
    await reaped;
  };

  let port = 0;
  const start = () =>
    pgCtl(['-l', join(dir, 'server.log'), '-w', '-t', '30', '-o', `-k ${dir} -p ${port} -h 127.0.0.1 -F -c max_connections=100`, 'start']);
  try {
    await run(...owner('initdb', ['-D', data, '-A', 'trust', '-U', 'stratus', '-E', 'UTF8', '--no-locale', '-N']));
    let lastError;
    for (let attempt = 0; attempt < 3; attempt++) {
      port = await freePort();
      try {
        await start();
        lastError = null;
        break;
      } catch (e) {
        lastError = e;
      }
    }
    if (lastError) throw lastError;
    await run(join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'stratus', database]);
  } catch (e) {
    let log = '';
    try {
      log = readFileSync(join(dir, 'server.log'), 'utf8');
    } catch {}
    await stop();
    throw new Error(`postgres did not start: ${e.message}\n${e.stderr ?? ''}\n${log}`);
  }

  const url = `postgres://stratus@127.0.0.1:${port}/${database}`;
  return {
    url,
    port,
    dir,
    query: async (sql) =>
      (await run(join(bin, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'stratus', '-d', database, '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql])).stdout.trim(),
    pause: () => pgCtl(['-m', 'fast', '-w', 'stop']),
    resume: () => start(),
    stop,
  };
}
