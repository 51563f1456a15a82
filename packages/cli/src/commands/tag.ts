import { ErrorCodes, LadingError, openTarget, parseTarget, tagArtifact } from '@lading/core';
import * as Args from '@oclif/core/args';

import { RegistryCommand } from '../base-command.js';

/** What `lading tag --json` prints. */
export interface TagCommandResult {
  /** The source reference as given, normalised. */
  reference: string;
  /** The manifest digest the tags now point at. */
  digest: string;
  /** The tags set, each once, in the order given. */
  tags: string[];
}

/** `lading tag`: points more tags at an artifact already in a registry or an OCI layout. */
export class Tag extends RegistryCommand<typeof Tag> {
  static override summary = 'Point one or more tags at an artifact that is already pushed.';
  static override description = `Resolves the reference to its manifest and points each tag at it, in the same repository (or OCI layout). Nothing is downloaded but the manifest; a tag that exists is moved. The manifest digest is printed on standard output.`;

  static override examples = [
    {
      description: 'Promote a build to a release tag and latest.',
      command: '<%= config.bin %> tag ghcr.io/acme/config:build-42 v1.4.0 latest',
    },
    {
      description: 'Tag by digest in a local OCI layout.',
      command: '<%= config.bin %> tag oci:./layout@sha256:4f1c… stable',
    },
  ];

  static override strict = false;
  static override usage = 'tag REFERENCE TAG... [FLAGS]';

  static override args = {
    reference: Args.string({
      required: true,
      description: 'The artifact: host[:port]/repository:tag, …@sha256:…, or oci:<dir>:tag.',
    }),
    tag: Args.string({ required: true, description: 'The tags to point at it (one or more).' }),
  };

  override async run(): Promise<TagCommandResult> {
    const [reference = '', ...tags] = this.argvRest;
    const client = await this.registryClient();
    const opened = await openTarget(reference, { client });
    if (opened.reference === undefined) {
      throw new LadingError(ErrorCodes.usage, `tag ${opened.display}: name a tag or a digest of the artifact to tag`);
    }
    // Each tag is checked as a reference would be, before anything moves.
    const base = withoutVersion(opened);
    for (const tag of tags) {
      if (parseTarget(`${base}:${tag}`).tag !== tag) {
        throw new LadingError(ErrorCodes.usage, `tag ${tag}: not a valid tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})`);
      }
    }
    const progress = this.progress();
    const { descriptor, tags: set } = await tagArtifact(opened.target, opened.reference, tags, {
      display: opened.display,
      signal: this.signal,
      onEvent: (event) => {
        if (event.type === 'tagged') progress.note(`Tagged ${event.tag}`);
      },
    });
    progress.finish();
    this.log(descriptor.digest);
    return { reference: opened.display, digest: descriptor.digest, tags: set };
  }
}

/** The display reference without its `@digest` and `:tag`: the repository or layout (`host/repo`, `oci:./dir`). */
function withoutVersion(opened: { display: string; tag?: string; digest?: string }): string {
  let out = opened.display;
  if (opened.digest !== undefined && out.endsWith(`@${opened.digest}`)) out = out.slice(0, -opened.digest.length - 1);
  if (opened.tag !== undefined && out.endsWith(`:${opened.tag}`)) out = out.slice(0, -opened.tag.length - 1);
  return out;
}
