import { z } from 'zod';
import { envName, objectName } from './preview-container.js';

/** The add-on types and, per type, the version and the variable its URL is given in unless the file says otherwise. */
export const ADDON_TYPES = ['postgres', 'mysql', 'redis'] as const;
export type AddonType = (typeof ADDON_TYPES)[number];
export const ADDON_DEFAULTS: Record<AddonType, { version: string; url_env: string }> = {
  postgres: { version: '16', url_env: 'DATABASE_URL' },
  mysql: { version: '8.4', url_env: 'DATABASE_URL' },
  redis: { version: '7', url_env: 'REDIS_URL' },
};
export const DEFAULT_ADDON_STORAGE = '1Gi';
/** PREVIEW_MAX_ADDON_STORAGE's default: the largest `storage` an add-on may ask for. */
export const DEFAULT_MAX_ADDON_STORAGE = '10Gi';
export const MAX_ADDONS = 10;

// An add-on's name becomes a StatefulSet's and a Service's name (DNS-1035 label). A StatefulSet's pods carry the
// label controller-revision-hash = `<name>-<10-character hash>`, and a label value is at most 63 characters: so 52.
export const MAX_ADDON_NAME_LENGTH = 52;
export const addonName = objectName(MAX_ADDON_NAME_LENGTH, 'it names a StatefulSet');

// A Kubernetes quantity of bytes, binary or decimal suffix: 512Mi, 1Gi, 5G.
const STORAGE_QUANTITY = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/;
const STORAGE_UNITS: Record<string, number> = {
  '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50,
};

/** The bytes of a storage quantity such as `1Gi` or `500M`, or undefined when it is not one. */
export function storageBytes(quantity: string): number | undefined {
  const m = STORAGE_QUANTITY.exec(quantity);
  return m ? Number(m[1]) * STORAGE_UNITS[m[2] ?? '']! : undefined;
}

const storage = z
  .string({ error: (iss) => (iss.input === undefined ? undefined : 'a storage quantity such as 1Gi or 512Mi') })
  .regex(STORAGE_QUANTITY, 'a storage quantity such as 1Gi or 512Mi')
  .refine((q) => (storageBytes(q) ?? 0) >= 1, 'more than 0');

const addonSchema = (type: AddonType) =>
  z
    .strictObject({
      type: z.literal(type),
      version: z
        .string({ error: (iss) => (iss.input === undefined ? undefined : `a version as a quoted string, such as "${ADDON_DEFAULTS[type].version}"`) })
        .max(32)
        .regex(/^\d+(\.\d+){0,2}$/, `digits with up to two dot parts, such as "${ADDON_DEFAULTS[type].version}"`)
        .default(ADDON_DEFAULTS[type].version)
        .describe(`The ${type} version (its image's tag); default "${ADDON_DEFAULTS[type].version}"`),
      storage: storage
        .default(DEFAULT_ADDON_STORAGE)
        .describe(`Size of its volume; default ${DEFAULT_ADDON_STORAGE}, at most what the installation allows (PREVIEW_MAX_ADDON_STORAGE, default ${DEFAULT_MAX_ADDON_STORAGE})`),
      url_env: envName
        .default(ADDON_DEFAULTS[type].url_env)
        .describe(`The variable every service and job gets its URL in; default ${ADDON_DEFAULTS[type].url_env}`),
    })
    .describe(`A ${type} of the preview's own: a StatefulSet with a volume, a Service named after the key and a Secret <name>-credentials`);

export const previewAddonSchema = z.discriminatedUnion(
  'type',
  ADDON_TYPES.map(addonSchema) as [ReturnType<typeof addonSchema>, ...Array<ReturnType<typeof addonSchema>>],
  { error: (iss) => (iss.code === 'invalid_union' ? `one of ${ADDON_TYPES.join(', ')}` : undefined) },
);

export type PreviewAddon = z.infer<typeof previewAddonSchema>;

/** The Secret holding an add-on's generated password and URL. */
export function addonCredentialsSecret(addon: string): string {
  return `${addon}-credentials`;
}
