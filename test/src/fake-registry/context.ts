import type { MemoryStore } from './store.js';

/** How the registry answers `OCI-Subject` on a manifest PUT carrying a `subject`. */
export type SubjectHeaderMode = 'when-referrers' | 'always' | 'never';

/** The switches handlers read on every request; the runtime setters of the registry change them. */
export interface RegistrySettings {
  referrersAPI: boolean;
  /** Referrers per page; 0 = all on one page unless the client asks with `n`. */
  referrersPageSize: number;
  /** Tags per page when the client sends no `n`; 0 = all. */
  tagsPageSize: number;
  conditionalPut: boolean;
  subjectHeader: SubjectHeaderMode;
  chunkMinLength: number | undefined;
  maxManifestBytes: number;
  deleteEnabled: boolean;
  /** Honour `Range` on blob GETs; false serves the whole blob with 200, like registries and CDNs that ignore ranges. */
  rangeRequests: boolean;
  /** Origin of the blob storage listener when blob GETs redirect there. */
  storageURL: string | undefined;
}

/** What every route handler gets: the content and the switches. */
export interface RegistryContext {
  readonly store: MemoryStore;
  readonly settings: RegistrySettings;
}
