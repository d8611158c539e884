/** resource.Quantity, as far as quotas and limit ranges need it: parse to a number, print back canonically. */

export const QUANTITY_PATTERN = '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$';
const QUANTITY = new RegExp(QUANTITY_PATTERN);

const SUFFIX: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** The value of a quantity string, or undefined when it is not one. */
export function parseQuantity(text: unknown): number | undefined {
  if (typeof text === 'number') return text;
  if (typeof text !== 'string') return undefined;
  const m = text.match(QUANTITY);
  if (!m) return undefined;
  const num = Number(m[1]);
  if (!Number.isFinite(num)) return undefined;
  const suffix = m[2]!;
  if (suffix in SUFFIX) return num * SUFFIX[suffix]!;
  const exp = suffix.match(/^[eE]([-+]?\d+)$/);
  if (exp) return num * 10 ** Number(exp[1]);
  return undefined;
}

/** CPU amounts print as whole cores or millicores ("2", "500m"). */
function formatCpu(cores: number): string {
  const milli = Math.round(cores * 1000);
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}

/** Byte amounts print in the largest binary unit that divides them ("512Mi", "1Gi"). */
function formatBytes(bytes: number): string {
  const b = Math.round(bytes);
  for (const [suffix, size] of [['Ei', 2 ** 60], ['Pi', 2 ** 50], ['Ti', 2 ** 40], ['Gi', 2 ** 30], ['Mi', 2 ** 20], ['Ki', 2 ** 10]] as const) {
    if (b >= size && b % size === 0) return `${b / size}${suffix}`;
  }
  return String(b);
}

/** How a quota resource's amount prints, by what it counts. */
export function formatFor(resource: string, value: number): string {
  if (/(^|\.)cpu$/.test(resource)) return formatCpu(value);
  if (/(^|\.)(memory|ephemeral-storage|storage)$/.test(resource)) return formatBytes(value);
  return String(Math.round(value));
}
