/**
 * Defect 7: names and paths stay home. vnf's folders (/sys/fs/bpf/vnf/..., /run/vnf/...) are
 * created 0700 and owned by the user who runs it, the record is 0600, and a folder someone
 * else made in their place (another owner, or a symlink pointing elsewhere) is refused before
 * anything is written through it.
 */
import t, { type Test } from 'tap';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, chownSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { requirePrivileges } from '../helpers/privilege.js';
import { vnfctl } from '../helpers/cli.js';
import { labFile, labUp, TWO_NETS } from '../helpers/lab.js';
import { modeOf } from '../helpers/vnf.js';
import { lockPath, pinDir, stateDir, VNF_PIN_ROOT, VNF_RUN_ROOT } from '../../src/model/names.js';

const NOBODY = 65534;
/** A topology without containers: apply needs no interfaces. */
const BARE = `
apiVersion: vnf/v1
name: NAME
networks:
  lan: { subnet: 10.66.1.0/24 }
`;

/** A folder outside vnf's roots, removed at teardown. */
function elsewhere(t: Test, root: string): string {
  const dir = root === tmpdir() ? mkdtempSync(join(root, 'vnf-elsewhere-')) : join(root, `vnft-${randomBytes(3).toString('hex')}`);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(dir, { recursive: true });
  return dir;
}

function refused(t: Test, file: string, message: RegExp): void {
  const r = vnfctl(['apply', '-f', file]);
  t.not(r.status, 0, 'apply refuses');
  t.match(r.stderr, message, `with a clear message (${r.stderr.trim()})`);
  t.equal(r.stderr.trim().split('\n').length, 1, 'in one line');
}

if (requirePrivileges(t)) {
  t.test("after an apply, vnf's folders are 0700 and root's, the record 0600", async (t) => {
    const lab = labUp(t, TWO_NETS, ['a', 'b', 'c']);
    const dirs = [VNF_PIN_ROOT, pinDir(lab.name), join(pinDir(lab.name), 'links'), join(pinDir(lab.name), 'progs'), VNF_RUN_ROOT, stateDir(lab.name)];
    for (const d of dirs) t.same(modeOf(d), { mode: 0o700, uid: 0 }, `${d}: 0700, owned by root`);
    t.same(modeOf(join(stateDir(lab.name), 'state.json')), { mode: 0o600, uid: 0 }, 'the record: 0600, owned by root');
    t.same(modeOf(lockPath(lab.name)), { mode: 0o600, uid: 0 }, 'the lock file: 0600, owned by root');
  });

  t.test('a folder of vnf with a wider mode (made by an older vnf) is narrowed to 0700', async (t) => {
    const lab = labFile(t, BARE, []);
    mkdirSync(pinDir(lab.name), { mode: 0o755 });
    chmodSync(pinDir(lab.name), 0o755);
    const r = vnfctl(['apply', '-f', lab.file]);
    t.equal(r.status, 0, r.stderr);
    t.same(modeOf(pinDir(lab.name)), { mode: 0o700, uid: 0 }, 'the pin folder is 0700 after the apply');
  });

  t.test('a pin folder pre-created by another user: apply refuses and writes nothing through it', async (t) => {
    const lab = labFile(t, BARE, []);
    const dir = pinDir(lab.name);
    mkdirSync(dir, { mode: 0o755 });
    chownSync(dir, NOBODY, NOBODY);
    refused(t, lab.file, new RegExp(`${dir} is owned by uid ${NOBODY}.*remove it`));
    t.same(readdirSync(dir), [], 'nothing was pinned in it');
    t.same(modeOf(dir), { mode: 0o755, uid: NOBODY }, 'and it was not taken over');
    t.equal(existsSync(stateDir(lab.name)), false, 'no record was written');
  });

  t.test('a pin folder that is a symlink: apply refuses and writes nothing through it', async (t) => {
    const lab = labFile(t, BARE, []);
    const target = elsewhere(t, '/sys/fs/bpf');
    symlinkSync(target, pinDir(lab.name));
    refused(t, lab.file, new RegExp(`${pinDir(lab.name)} is a symbolic link`));
    t.same(readdirSync(target), [], 'nothing was pinned where it points');
    t.ok(lstatSync(pinDir(lab.name)).isSymbolicLink(), 'the link itself is left for the admin to inspect');
    t.equal(existsSync(stateDir(lab.name)), false, 'no record was written');
  });

  t.test('a record folder that is a symlink elsewhere: apply refuses before changing the kernel', async (t) => {
    const lab = labFile(t, BARE, []);
    const target = elsewhere(t, tmpdir());
    symlinkSync(target, stateDir(lab.name));
    refused(t, lab.file, new RegExp(`${stateDir(lab.name)} is a symbolic link`));
    t.same(readdirSync(target), [], 'nothing was written where it points');
    t.equal(existsSync(pinDir(lab.name)), false, 'and nothing was pinned');
  });

  t.test('a record folder pre-created by another user: apply refuses', async (t) => {
    const lab = labFile(t, BARE, []);
    mkdirSync(stateDir(lab.name), { mode: 0o755 });
    chownSync(stateDir(lab.name), NOBODY, NOBODY);
    refused(t, lab.file, new RegExp(`${stateDir(lab.name)} is owned by uid ${NOBODY}`));
    t.same(readdirSync(stateDir(lab.name)), [], 'nothing was written in it');
    t.equal(existsSync(pinDir(lab.name)), false, 'and nothing was pinned');
  });
}
