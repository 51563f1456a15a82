/**
 * The optional git anchor: a statement may record the git commit an artifact was built from (an in-toto subject
 * with a `gitCommit` digest), and a verifier given a git directory checks that this commit exists there and carries
 * an SSH signature (namespace `git`, as `git commit -S` with `gpg.format=ssh` makes) from a key the same
 * allowed_signers file allows. The commit is read with the `git` command (`git cat-file commit`), which must be on
 * PATH.
 */
import { execFile } from 'node:child_process';

/** The in-toto digest algorithm name of a git commit id (in-toto's digest set registry). */
export const DigestGitCommit = 'gitCommit';

/** The SSHSIG namespace git signs commits in. */
export const GitNamespace = 'git';

const commitPattern = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** Throws a plain `Error` unless `commit` is a full commit id, 40 (SHA-1) or 64 (SHA-256) lower-case hex digits. */
export function checkCommitId(commit: string): string {
  if (!commitPattern.test(commit))
    throw new Error(`git commit ${JSON.stringify(commit)} is not a full commit id (40 or 64 hex digits)`);
  return commit;
}

/** The raw commit object `commit` in the repository at `gitDir` (a work tree or a bare repository). */
export function readCommit(gitDir: string, commit: string, signal?: AbortSignal): Promise<Buffer> {
  checkCommitId(commit);
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      ['-C', gitDir, 'cat-file', 'commit', commit],
      { encoding: 'buffer', maxBuffer: 1024 * 1024, ...(signal ? { signal } : {}) },
      (error, stdout, stderr) => {
        if (error) {
          const said = stderr.toString('utf8').trim().split('\n')[0] ?? '';
          reject(new Error(`git commit ${commit} is not in ${gitDir}${said ? ` (${said})` : ''}`, { cause: error }));
        } else resolve(stdout);
      },
    );
  });
}

/**
 * Splits a commit object into what its signature covers (the object without the `gpgsig`/`gpgsig-sha256` header)
 * and the signature text; undefined when the commit is not signed.
 */
export function commitSignature(commit: Buffer): { payload: Buffer; signature: string } | undefined {
  const text = commit.toString('utf8');
  const headerEnd = text.indexOf('\n\n');
  const headers = (headerEnd < 0 ? text : text.slice(0, headerEnd)).split('\n');
  const kept: string[] = [];
  const signature: string[] = [];
  let inSignature = false;
  for (const line of headers) {
    if (inSignature && line.startsWith(' ')) {
      signature.push(line.slice(1));
      continue;
    }
    inSignature = false;
    const match = /^(gpgsig|gpgsig-sha256) (.*)$/.exec(line);
    if (match && signature.length === 0) {
      inSignature = true;
      signature.push(match[2] ?? '');
    } else kept.push(line);
  }
  if (signature.length === 0) return undefined;
  const rest = headerEnd < 0 ? '' : text.slice(headerEnd);
  return { payload: Buffer.from(kept.join('\n') + rest, 'utf8'), signature: `${signature.join('\n')}\n` };
}
