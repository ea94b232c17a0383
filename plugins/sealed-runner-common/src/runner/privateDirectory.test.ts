import {
  chmodSync,
  chownSync,
  mkdtempSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { securePrivateDirectory, securePrivateFile } from './privateDirectory';

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

describe('securePrivateDirectory', () => {
  let base: string;
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'private-dir-'));
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  const modeOf = (path: string) => statSync(path).mode & 0o777;
  const what = 'the test directory';

  it.each([0o700, 0o711])(
    'creates a missing directory with mode %o',
    async mode => {
      const dir = join(base, 'a', 'b');
      await expect(
        securePrivateDirectory(dir, { mode, what }),
      ).resolves.toBeUndefined();
      expect(modeOf(dir)).toBe(mode);
      // Only the directory itself: its parents as the umask makes them.
      expect(modeOf(join(base, 'a'))).toBe(0o777 & ~process.umask());
    },
  );

  it.each([
    [0o755, 0o700],
    [0o750, 0o700],
    [0o744, 0o711],
  ])(
    'tightens a directory of mode %o to %o, and warns',
    async (existing, mode) => {
      const dir = join(base, 'd');
      await securePrivateDirectory(dir, { mode: 0o700, what });
      chmodSync(dir, existing);
      await expect(securePrivateDirectory(dir, { mode, what })).resolves.toBe(
        `${what} ${dir} was readable by others (mode 0${existing.toString(
          8,
        )}); made it 0${mode.toString(8)}`,
      );
      expect(modeOf(dir)).toBe(mode);
    },
  );

  it.each([0o777, 0o770, 0o702, 0o1777])(
    'refuses a directory of mode %o, writable by others, and leaves it',
    async existing => {
      const dir = join(base, 'd');
      await securePrivateDirectory(dir, { mode: 0o700, what });
      chmodSync(dir, existing);
      await expect(
        securePrivateDirectory(dir, { mode: 0o700, what }),
      ).rejects.toThrow(
        /is writable by its group or by anyone \(mode 0\d{3}\): chmod go-w/,
      );
      expect(modeOf(dir)).toBe(existing & 0o777);
    },
  );

  it('refuses a symlink to a directory, and a file', async () => {
    const target = join(base, 'target');
    await securePrivateDirectory(target, { mode: 0o700, what });
    symlinkSync(target, join(base, 'link'));
    writeFileSync(join(base, 'file'), '');
    await expect(
      securePrivateDirectory(join(base, 'link'), { mode: 0o700, what }),
    ).rejects.toThrow(/is not a directory/);
    await expect(
      securePrivateDirectory(join(base, 'file'), { mode: 0o700, what }),
    ).rejects.toThrow();
  });

  it('refuses a directory that belongs to another user', async () => {
    // As root, a directory given away; otherwise one root owns.
    let theirs = '/usr';
    if (isRoot) {
      theirs = join(base, 'theirs');
      await securePrivateDirectory(theirs, { mode: 0o700, what });
      chownSync(theirs, NOBODY, NOBODY);
    }
    const owner = statSync(theirs).uid;
    await expect(
      securePrivateDirectory(theirs, { mode: 0o755, what }),
    ).rejects.toThrow(
      new RegExp(
        `belongs to uid ${owner}, not to this process's user \\(${process.getuid!()}\\)`,
      ),
    );
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it('makes a readable file 0600', async () => {
    const file = join(base, 'db.sqlite');
    writeFileSync(file, '', { mode: 0o644 });
    await securePrivateFile(file, 'the database');
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('refuses a file others may write', async () => {
    const file = join(base, 'db.sqlite');
    writeFileSync(file, '');
    chmodSync(file, 0o666);
    await expect(securePrivateFile(file, 'the database')).rejects.toThrow(
      /writable by its group or by anyone \(mode 0666\)/,
    );
  });
});
